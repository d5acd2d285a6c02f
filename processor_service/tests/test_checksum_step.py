from __future__ import annotations

import hashlib
import io

import pytest

from processor_service.steps import PermanentError, StepInput, StepOptions, checksum


def test_matching_bytes_are_reported_as_verified() -> None:
    data = b"hello world" * 1000
    source = StepInput(hashlib.sha256(data).hexdigest(), len(data), "text/plain")
    stream = io.BytesIO(data)
    stream.seek(500)  # a step must not depend on where the stream was left

    result = checksum.run(stream, source, StepOptions())

    assert result.metadata == {"sha256_verified": True}
    assert result.derivatives == []


def test_bytes_that_hash_differently_are_a_permanent_checksum_mismatch() -> None:
    data = b"hello world"
    source = StepInput(hashlib.sha256(b"something else").hexdigest(), len(data), "text/plain")

    with pytest.raises(PermanentError) as caught:
        checksum.run(io.BytesIO(data), source, StepOptions())

    assert caught.value.code == "checksum_mismatch"
    assert hashlib.sha256(data).hexdigest() in caught.value.message
