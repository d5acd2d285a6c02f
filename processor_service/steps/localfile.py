"""A path on disk for a step input, for the tools that only read named files."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO


@contextmanager
def local_path(stream: BinaryIO) -> Iterator[str]:
    """The stream's own file when it has one, else a temporary copy removed afterwards."""
    name = getattr(stream, "name", None)
    if isinstance(name, str) and os.path.isfile(name):
        yield name
        return
    with tempfile.NamedTemporaryFile(prefix="usp-input-") as copy:
        stream.seek(0)
        shutil.copyfileobj(stream, copy)
        copy.flush()
        yield copy.name
