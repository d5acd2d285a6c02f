"""GET /api/v1/files/{id}/events: a file's live status as server-sent events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from webapp.core.errors import ServiceUnavailable
from webapp.files.api import FILE_ID, AnyAccept, error_responses
from webapp.files.live import SLOTS, file_event_stream
from webapp.files.models import File
from webapp.files.selectors import file_get
from webapp.files.serializers import FileSerializer

EVENT_STREAM = "text/event-stream"


class _SlotStream:
    """The stream's chunks; closing it (the server always does) gives its slot back,
    even when not one chunk was read."""

    def __init__(self, chunks: Iterator[bytes], release: Callable[[], None]) -> None:
        self._chunks = chunks
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        try:
            self._chunks.close()  # type: ignore[attr-defined]
        finally:
            self._release()


class FileEventsApi(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept
    # A HEAD would hold a thread for a stream nobody reads.
    http_method_names = ["get", "options"]

    @extend_schema(
        operation_id="files_events",
        parameters=[FILE_ID],
        summary="Follow the file live (server-sent events)",
        description="A `text/event-stream`: an event `file` with the file resource now, "
        "then again whenever it changes, until the file is ready, failed or expired; "
        "comment lines keep it alive. A stream lasts at most USP_LIVE_STREAM_SECONDS "
        "(default 60), then the client reconnects (EventSource does so by itself, after "
        "the `retry` delay). An event `gone` says the file was deleted. 503 with code "
        "too_many_streams when the server has as many streams open as it allows: poll "
        "`GET /api/v1/files/{id}/` instead.",
        responses={
            (200, EVENT_STREAM): OpenApiResponse(
                OpenApiTypes.STR, description="event: file / data: <the file resource>"
            ),
            **error_responses(401, 404, 503),
        },
    )
    def get(self, request: Request, file_id: str) -> StreamingHttpResponse:
        file_get(user=request.user, file_id=file_id)
        ended = SLOTS.take(settings.USP.live_max_streams)
        if ended is None:
            raise ServiceUnavailable(
                "Too many live streams are open; poll the file instead.",
                code="too_many_streams",
            )
        chunks = file_event_stream(
            user=request.user,
            file_id=file_id,
            render=_renderer(request),
            ended=ended,
            lifetime=settings.USP.live_stream_seconds,
            client_gone=_client_gone(request),
        )
        response = StreamingHttpResponse(
            _SlotStream(chunks, lambda: SLOTS.give_back(ended)), content_type=EVENT_STREAM
        )
        response["Cache-Control"] = "no-cache"
        # Tells a buffering reverse proxy (nginx) to pass each event on at once.
        response["X-Accel-Buffering"] = "no"
        return response


def _renderer(request: Request) -> Callable[[File], dict[str, Any]]:
    def render(file: File) -> dict[str, Any]:
        return dict(FileSerializer(file, context={"request": request}).data)

    return render


def _client_gone(request: Request) -> Callable[[], bool]:
    """waitress reports a closed connection while the response is still running (with
    channel_request_lookahead); other servers notice at the next write."""
    check = request.META.get("waitress.client_disconnected")
    return check if callable(check) else _never


def _never() -> bool:
    return False
