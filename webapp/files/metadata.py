"""OPTIONS in the REST API: a route naming one of the caller's objects describes itself
only to that object's owner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.metadata import SimpleMetadata

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class OwnerMetadata(SimpleMetadata):
    """DRF's description of a view, once every object its path names is found to be the
    caller's: another user's id is 404 for OPTIONS too, the same 404 as a made-up one.

    DRF imports this class while it defines APIView, so the selectors are imported when
    a request comes, not with this module.
    """

    def determine_metadata(self, request: Request, view: APIView) -> dict[str, Any]:
        for name, value in view.kwargs.items():
            owned_object_get(parameter=name, user=request.user, value=value)
        return dict(super().determine_metadata(request, view))


def owned_object_get(*, parameter: str, user: Any, value: Any) -> object | None:
    """The caller's object a path parameter names (None for a parameter that names
    none); NotFound for anyone else's, as every other method answers."""
    from webapp.accounts.tokens import token_get
    from webapp.files.selectors import file_get, job_get

    if parameter == "file_id":
        return file_get(user=user, file_id=value)
    if parameter == "job_id":
        return job_get(user=user, job_id=value)
    if parameter == "token_id":
        return token_get(user=user, token_id=value)
    return None
