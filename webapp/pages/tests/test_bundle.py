"""The committed upload-page bundle is what frontend/build.mjs makes from the sources."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"


def test_the_committed_bundle_matches_a_fresh_build_of_the_sources() -> None:
    node = shutil.which("node")
    if node is None or not (FRONTEND / "node_modules" / "esbuild").is_dir():
        pytest.skip("needs Node.js and `npm ci` in frontend/ (the bundle itself is committed)")

    result = subprocess.run(
        [node, "build.mjs", "--check"],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr + result.stdout
