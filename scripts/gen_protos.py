"""Generate the Python code for the contracts in proto/ into usp/v1/.

The .proto files live flat in proto/ and import each other as "usp/v1/<name>.proto";
protoc maps that virtual path onto proto/, so the generated modules import each other
as `usp.v1.<name>_pb2` and need no rewriting.

    python scripts/gen_protos.py            # write usp/v1/
    python scripts/gen_protos.py --check    # exit 1 when usp/v1/ is stale
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
PACKAGE_PATH = "usp/v1"
OUTPUT_DIR = ROOT / PACKAGE_PATH
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(into: Path) -> None:
    """Run protoc (from grpcio-tools) over every contract, writing modules and stubs."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(f"{PACKAGE_PATH}/{p.name}" for p in PROTO_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{PACKAGE_PATH}={PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={into}",
        f"--pyi_out={into}",
        f"--grpc_python_out={into}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    package = into / PACKAGE_PATH
    (package / "__init__.py").write_text('"""Generated from proto/ by scripts/gen_protos.py."""\n')
    (package / "py.typed").write_text("")


def generated_files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}


def stale_files(fresh: Path, current: Path) -> list[str]:
    """Names that differ between a fresh generation and the committed one."""
    names = generated_files(fresh) | (generated_files(current) if current.exists() else set())
    return sorted(
        name
        for name in names
        if not (current / name).exists()
        or not (fresh / name).exists()
        or not filecmp.cmp(fresh / name, current / name, shallow=False)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when usp/v1 is stale")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / PACKAGE_PATH
        if options.check:
            stale = stale_files(fresh, OUTPUT_DIR)
            for name in stale:
                print(f"stale: {PACKAGE_PATH}/{name}", file=sys.stderr)
            return 1 if stale else 0
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        for path in fresh.iterdir():
            (OUTPUT_DIR / path.name).write_bytes(path.read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
