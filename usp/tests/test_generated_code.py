from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_protobuf_code_matches_the_contracts() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_contract_is_used_by_running_code() -> None:
    sources = [
        p.read_text()
        for d in ("usp", "webapp", "storage_service", "processor_service")
        for p in (ROOT / d).rglob("*.py")
        if "/v1/" not in str(p) and "/tests/" not in str(p)
    ]
    code = "\n".join(sources)
    for contract in sorted((ROOT / "proto").glob("*.proto")):
        module = f"{contract.stem}_pb2"
        assert module in code, f"{contract.name} is not used by any service"
