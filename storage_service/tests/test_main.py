"""`python -m storage_service` serves until SIGTERM, then stops gracefully."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from storage_service.tests.conftest import TOKEN
from usp.storage_client import StorageClient

ROOT = Path(__file__).resolve().parents[2]


def test_module_serves_until_sigterm_and_exits_cleanly(tmp_path: Path, namespace: str) -> None:
    environ = {
        **os.environ,
        "USP_DATA_DIR": str(tmp_path),
        "USP_SERVICE_TOKEN": TOKEN,
        "USP_STORAGE_GRPC_PORT": "0",
        "USP_STORAGE_HTTP_PORT": "0",
        "USP_BROKER_URL": "",
        "USP_BROKER_NAMESPACE": namespace,
        "USP_GRACE_PERIOD": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "storage_service"],
        cwd=ROOT,
        env=environ,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _started_port(process)
        with StorageClient(f"127.0.0.1:{port}", TOKEN) as client:
            assert client.is_serving()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (tmp_path / "storage.sqlite3").exists()


def _started_port(process: subprocess.Popen[str]) -> int:
    """Read the log until the service says where it listens (readline blocks, no polling)."""
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        match = re.search(r"storage service started port=(\d+)", line)
        if match:
            return int(match.group(1))
    raise AssertionError("the service exited before starting:\n" + "".join(seen))
