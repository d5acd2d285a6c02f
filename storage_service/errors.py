"""The storage domain's errors; the servicer maps each class to one gRPC status and the
data plane to one HTTP status. `code` is the stable machine-readable name of the error."""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error the storage domain reports to its callers."""

    code = "storage_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidObject(StorageError):
    """The request or the bytes sent are not acceptable; nothing was stored."""

    code = "invalid"


class TypeNotAllowed(InvalidObject):
    """The sniffed type of the bytes is outside the upload's type policy."""

    code = "type_not_allowed"


class ObjectNotFound(StorageError):
    """No stored object (or file) has that name."""

    code = "not_found"


class SessionNotFound(ObjectNotFound):
    """No open upload session has that id (unknown, completed, aborted or rejected)."""


class SessionExpired(StorageError):
    """The upload location or its session has expired."""

    code = "expired"


class AlreadyExists(StorageError):
    """The file already has an original object."""

    code = "already_exists"


class OutOfRange(StorageError):
    """A read starts beyond the end of the object."""

    code = "out_of_range"


class Forbidden(StorageError):
    """An upload location that is unsigned, tampered with, or signed by an unknown key."""

    code = "forbidden"


class TooLarge(StorageError):
    """More bytes than the upload may have."""

    code = "too_large"


class OffsetMismatch(StorageError):
    """A write does not start where the upload's bytes end."""

    code = "offset_mismatch"


class Locked(StorageError):
    """Another request is writing to the same upload."""

    code = "locked"


class ChecksumMismatch(StorageError):
    """A chunk's bytes do not match the checksum sent with it; the chunk was discarded."""

    code = "checksum_mismatch"


class UploadRejected(StorageError):
    """The complete upload failed verification; the session is closed, nothing stored.

    `code` says why: "size_mismatch", "sha256_mismatch", "type_not_allowed" or
    "already_exists".
    """

    code = "rejected"
