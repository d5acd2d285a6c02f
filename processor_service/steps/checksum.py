"""The "checksum" step: re-read the input and prove its SHA-256 is the declared one."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from processor_service.steps import (
    PermanentError,
    StepInput,
    StepOptions,
    StepResult,
    read_chunks,
)


def run(stream: BinaryIO, source: StepInput, options: StepOptions) -> StepResult:
    stream.seek(0)
    digest = hashlib.sha256()
    for chunk in read_chunks(stream):
        digest.update(chunk)
    actual = digest.hexdigest()
    if actual != source.sha256.lower():
        raise PermanentError(
            "checksum_mismatch",
            f"the bytes hash to {actual}, not to the declared {source.sha256}",
        )
    return StepResult(metadata={"sha256_verified": True})
