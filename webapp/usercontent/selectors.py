"""What a verified link may read."""

from __future__ import annotations

from webapp.core.errors import NotFound
from webapp.files.models import File
from webapp.files.selectors import (
    DownloadTarget,
    derivative_content_target,
    file_content_target,
)
from webapp.usercontent.signing import Capability


def capability_target(*, capability: Capability) -> DownloadTarget:
    """The bytes a capability names, while its file exists and still belongs to the
    owner it was issued for: NotFound otherwise, Conflict while they are not stored."""
    file = File.objects.filter(pk=capability.file_id, owner_id=capability.owner_id).first()
    if file is None:
        raise NotFound("No such file.", code="not_found")
    if capability.kind:
        return derivative_content_target(file=file, kind=capability.kind)
    return file_content_target(file=file)
