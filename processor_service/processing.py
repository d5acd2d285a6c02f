"""One job, start to end, without the broker: recall, or fetch, verify, run, store.

A result storage remembers for the same input, step, version and options is reused:
its derivatives are linked to the file and nothing is read or decoded (see
remembering), unless the task is forced (a reprocess). Otherwise the input is streamed
from storage into a temporary file while its SHA-256 is computed, so memory stays
flat whatever the file size and no step ever sees bytes that differ from what storage
committed. Isolated steps get that file's path in a resource-limited child process
(see sandbox); the others run in the worker. What the step produced goes back in one
storage call that stores its derivatives and remembers the result together.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import grpc
from dramatiq.middleware.time_limit import TimeLimitExceeded

from processor_service.memory import release_after_reading
from processor_service.remembering import recall, result_key
from processor_service.sandbox import DecoderFailure, Sandbox
from processor_service.steps import (
    DerivativeOutput,
    PermanentError,
    Step,
    StepInput,
    StepOptions,
    StepResult,
    find_step,
)
from usp.errors import ServiceError
from usp.storage_client import (
    DerivativeUpload,
    ResultKey,
    StorageClient,
    StoredDerivative,
    StoredObject,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """One step to apply to one stored file, as storage dispatched it; `force` computes
    even when a result is remembered."""

    job_id: str
    file_id: str
    step: str
    input: StoredObject
    force: bool = False


@dataclass(frozen=True)
class Outcome:
    """What a job produced; `reused` when it was remembered from earlier work."""

    metadata: dict[str, Any]
    derivatives: list[StoredDerivative]
    reused: bool = False


@dataclass(frozen=True)
class JobError:
    code: str
    message: str
    transient: bool


def run_task(
    task: Task,
    *,
    storage: StorageClient,
    options: StepOptions,
    sandbox: Sandbox | None = None,
) -> Outcome:
    """The remembered result of `task`'s step on its input, or the step run on the
    verified input, what it produced stored and remembered in one storage call.

    An isolated step runs in `sandbox`; with no sandbox given, in-process.
    """
    step = find_step(task.step)
    key = result_key(step, task.input.sha256, options)
    if not task.force:
        remembered = recall(storage, key, file_id=task.file_id, job_id=task.job_id)
        if remembered is not None:
            return Outcome(remembered.metadata, remembered.derivatives, reused=True)
    return compute(step, task, key, storage=storage, options=options, sandbox=sandbox)


def compute(
    step: Step,
    task: Task,
    key: ResultKey,
    *,
    storage: StorageClient,
    options: StepOptions,
    sandbox: Sandbox | None,
) -> Outcome:
    """Run the step on the verified input, then store its derivatives and remember its
    result under `key`."""
    source = StepInput(task.input.sha256, task.input.size, task.input.content_type)
    try:
        with fetch_verified(storage, task.input) as stream:
            result = run_step(step, stream, source, options, sandbox)
        stored = store_result(storage, task, key, result)
    finally:
        release_after_reading(task.input.size)  # what reading the input freed
    return Outcome(metadata=result.metadata, derivatives=stored)


def run_step(
    step: Step,
    stream: BinaryIO,
    source: StepInput,
    options: StepOptions,
    sandbox: Sandbox | None,
) -> StepResult:
    if step.isolated and sandbox is not None:
        return sandbox.run(step.run, stream.name, source, options)
    return step.run(stream, source, options)


@contextmanager
def fetch_verified(storage: StorageClient, expected: StoredObject) -> Iterator[BinaryIO]:
    """The object's bytes in a named temporary file, rewound, once their SHA-256 is
    proven to be `expected`'s."""
    with tempfile.NamedTemporaryFile(prefix="usp-input-") as spool:
        digest = hashlib.sha256()
        for chunk in _read(storage, expected.sha256):
            digest.update(chunk)
            spool.write(chunk)
        _check_digest(digest.hexdigest(), expected.sha256)
        spool.flush()
        spool.seek(0)
        yield cast(BinaryIO, spool)


def _read(storage: StorageClient, sha256: str) -> Iterator[bytes]:
    try:
        yield from storage.read_object(sha256)
    except ServiceError as error:
        if error.status == grpc.StatusCode.NOT_FOUND:
            raise PermanentError("input_not_found", "the input is no longer stored") from error
        raise


def _check_digest(actual: str, expected: str) -> None:
    if actual != expected.lower():
        raise PermanentError(
            "checksum_mismatch",
            f"the stored bytes hash to {actual}, not to the dispatched {expected}",
        )


def store_result(
    storage: StorageClient, task: Task, key: ResultKey, result: StepResult
) -> list[StoredDerivative]:
    """Store the step's derivatives and remember its result, all or nothing."""
    stored = storage.store_result(
        key,
        file_id=task.file_id,
        job_id=task.job_id,
        metadata=result.metadata,
        derivatives=[_upload(output) for output in result.derivatives],
    )
    for item in stored:
        logger.info(
            "derivative stored",
            extra={"fields": {"job_id": task.job_id, "kind": item.kind, "size": item.object.size}},
        )
    return stored


def _upload(output: DerivativeOutput) -> DerivativeUpload:
    return DerivativeUpload(output.kind, [output.data], size=len(output.data))


def describe_failure(error: BaseException, *, attempt: int = 1, max_crashes: int = 1) -> JobError:
    """What to tell the world about a failed attempt: a stable code and a message.

    A decoder that crashed may have met a passing shortage (memory taken by others, an
    OOM kill), so it is transient until `max_crashes` attempts have failed.
    """
    if isinstance(error, PermanentError):
        return JobError(error.code, error.message, transient=False)
    if isinstance(error, DecoderFailure):
        if attempt < max_crashes:
            return JobError(error.code, error.message, transient=True)
        return JobError(error.code, f"{error.message} (attempt {attempt})", transient=False)
    if isinstance(error, ServiceError):
        code = "storage_unavailable" if error.unavailable else "storage_error"
        return JobError(code, error.message, transient=True)
    if isinstance(error, TimeLimitExceeded):
        return JobError("time_limit_exceeded", "the step ran longer than allowed", transient=True)
    return JobError("internal_error", "the step failed unexpectedly", transient=True)
