"""The storage domain's errors; the servicer maps each class to one gRPC status."""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error the storage domain reports to its callers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidObject(StorageError):
    """The request or the bytes sent are not acceptable; nothing was stored."""


class ObjectNotFound(StorageError):
    """No stored object (or file) has that name."""


class AlreadyExists(StorageError):
    """The file already has an original object."""


class OutOfRange(StorageError):
    """A read starts beyond the end of the object."""
