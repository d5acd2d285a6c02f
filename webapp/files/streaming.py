"""Multipart uploads streamed to storage while the form is parsed.

The web server has the request body whole before the view runs; Django's parser would
then copy the file part into a temporary file, and only after that would it go to
storage. `StorageStreamHandler` sits ahead of Django's own upload handlers and sends the
form's field 'file' to storage chunk by chunk as it is parsed instead, so storage writes
while the rest is parsed and the bytes are copied once less.

It takes the file only when the request's length, an upper bound of the file's size,
fits: that bound (at most USP_MAX_UPLOAD_SIZE) is checked and reserved against the quota
before any byte moves and settled to the exact size at the commit. When it does not fit,
or the name claims a type outside the policy, the handler passes the bytes on, and the
usual path decides with the exact size. Steps named in the form may come after the file,
so they go to storage after its bytes, in the stream's trailer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from usp.storage_client import CHUNK_SIZE
from webapp.accounts.models import User
from webapp.core.errors import QuotaExceeded, TooLarge, TypeNotAllowed
from webapp.files.policy import upload_size_check
from webapp.files.services import StreamedFile, file_reserve, upload_admit
from webapp.files.storage import get_storage_client

FILE_FIELD = "file"


@contextlib.contextmanager
def streaming_to_storage(request: HttpRequest, owner: User) -> Iterator[None]:
    """While the body is parsed inside this block, its field 'file' goes straight to
    storage; a write not finished by the end of the block is cancelled and its file
    forgotten. A body parsed already (a session's CSRF check reads the form) is left as
    it is."""
    handler = StorageStreamHandler(request, owner)
    handlers = request.upload_handlers
    for other in handlers:
        other.chunk_size = CHUNK_SIZE  # the parser reads by the smallest of them
    handlers.insert(0, handler)
    try:
        yield
    finally:
        handler.close()


class StorageStreamHandler(FileUploadHandler):
    """Takes the first field 'file' that fits (see the module's docstring) and sends it to
    storage as it is parsed; every other part goes on to the next handlers."""

    chunk_size = CHUNK_SIZE

    def __init__(self, request: HttpRequest, owner: User) -> None:
        super().__init__(request)
        self._owner = owner
        self._bound = 0
        self._streamed: StreamedFile | None = None  # the file taken, once one is
        self._receiving: StreamedFile | None = None  # the same while its part is parsed
        self._over = False

    def handle_raw_input(self, input_data: Any, META: Any, content_length: int, *args: Any) -> None:
        # No file part is longer than the whole request.
        self._bound = min(content_length, settings.USP.max_upload_size)

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name == FILE_FIELD and self._streamed is None:
            self._streamed = self._receiving = self._start(file_name)

    def _start(self, name: str) -> StreamedFile | None:
        try:
            upload_admit(name=name, size=self._bound)
            entry = file_reserve(owner=self._owner, name=name, size=self._bound)
        except (TooLarge, QuotaExceeded, TypeNotAllowed):
            return None
        write = get_storage_client().open_write(
            file_id=str(entry.pk), name=entry.name, allowed_types=settings.USP.allowed_types
        )
        return StreamedFile(entry, write)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self._receiving is None:
            return raw_data
        if self._over:
            return None
        if start + len(raw_data) > self._bound:
            self._over = True  # past USP_MAX_UPLOAD_SIZE: stop here, refuse at the end
            self._receiving.close()
            return None
        self._receiving.send(raw_data)
        return None

    def file_complete(self, file_size: int) -> StreamedFile | None:
        streamed, self._receiving = self._receiving, None
        if streamed is None:
            return None
        if self._over:
            upload_size_check(file_size)
        streamed.size = file_size
        return streamed

    def close(self) -> None:
        if self._streamed is not None:
            self._streamed.close()
