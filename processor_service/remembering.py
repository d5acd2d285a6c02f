"""Results remembered by storage, so the same work on the same content is done once.

A result is named by (input SHA-256, step, step version, options digest), the digest
being the SHA-256 of a canonical JSON of the options the step's result depends on (its
limits and outputs). A second file with the same bytes, or a redelivered message, finds
the result and links its derivatives instead of decoding anything; a change of options
(other thumbnail sizes) or of the step's version names another result and recomputes.
A job that computes stores its result together with its derivatives
(processing.store_result).
"""

from __future__ import annotations

import hashlib
import json
import logging

import grpc

from processor_service.steps import Step, StepOptions
from usp.errors import ServiceError
from usp.storage_client import RememberedResult, ResultKey, StorageClient

logger = logging.getLogger(__name__)


def options_digest(step: Step, options: StepOptions) -> str:
    """SHA-256 hex of the canonical JSON of the options `step`'s result depends on.

    The options are plain values and tuples of them, which JSON renders as they are;
    `dataclasses.asdict` would deep-copy every field on every job first.
    """
    values = {name: getattr(options, name) for name in step.option_names}
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def result_key(step: Step, input_sha256: str, options: StepOptions) -> ResultKey:
    return ResultKey(input_sha256.lower(), step.name, step.version, options_digest(step, options))


def recall(
    storage: StorageClient, key: ResultKey, *, file_id: str, job_id: str
) -> RememberedResult | None:
    """The remembered result, its derivatives now linked to `file_id` as `job_id`'s;
    None when there is none (or its derivatives went meanwhile) and the step must run."""
    remembered = storage.lookup_result(key)
    if remembered is None:
        return None
    try:
        storage.link_result(key, file_id=file_id, job_id=job_id)
    except ServiceError as error:
        if error.status != grpc.StatusCode.NOT_FOUND:
            raise
        logger.info("remembered result went", extra={"fields": _fields(key, job_id)})
        return None
    logger.info("result reused", extra={"fields": _fields(key, job_id)})
    return remembered


def _fields(key: ResultKey, job_id: str) -> dict[str, object]:
    return {"job_id": job_id, "step": key.step, "version": key.version, "sha256": key.input_sha256}
