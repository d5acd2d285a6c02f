"""The files REST API: each view validates, calls a service or selector, serializes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http.request import split_domain_port
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.accounts.selectors import usage_get
from webapp.core.errors import InvalidInput
from webapp.core.pagination import StrictPageNumberPagination
from webapp.core.parsers import JSONParser
from webapp.files.downloads import content_response
from webapp.files.intents import IDEMPOTENCY_KEY_MAX_LENGTH, upload_intent_create
from webapp.files.models import File
from webapp.files.selectors import (
    derivative_content_target,
    file_content_target,
    file_get,
    file_list,
)
from webapp.files.serializers import (
    ErrorSerializer,
    FileSerializer,
    PipelineTextField,
    UploadIntentCreateSerializer,
    UploadIntentSerializer,
    UsageSerializer,
)
from webapp.files.services import file_delete, file_upload, pipeline_parse
from webapp.files.streaming import streaming_to_storage
from webapp.usercontent.links import usercontent_link

ERRORS = {
    code: OpenApiResponse(ErrorSerializer, description=description)
    for code, description in {
        400: "Invalid input",
        401: "Not authenticated",
        403: "Forbidden (e.g. a missing CSRF token)",
        404: "Not one of your files",
        409: "Not in a state that allows this",
        413: "Too large (code too_large) or over your quota (code quota_exceeded)",
        415: "A type outside the type policy (code type_not_allowed)",
        416: "The range is outside the content (Content-Range: bytes */<size>)",
        422: "The Idempotency-Key was used for a different request",
        503: "The storage service is unavailable",
    }.items()
}


FILE_ID = OpenApiParameter("file_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    OpenApiParameter.HEADER,
    description="Any unique string (at most 255 characters): retrying the request with "
    "the same key returns the same upload and reserves nothing more.",
)
RANGE = OpenApiParameter(
    "Range",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="One byte range, e.g. `bytes=0-1023` or `bytes=-500`, answered with 206.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The ETag you hold (`"<sha256>"`): 304 when it is still the content.',
)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


# A list's `page` past its last page (or not a page number) is answered like DRF does.
PAGE_NOT_FOUND = {
    404: OpenApiResponse(ErrorSerializer, description="No such page (code not_found)")
}


class ApiRootApi(APIView):
    """Where things are: the files collection, the schema, and the gRPC ApiService."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="api_root",
        responses=inline_serializer(
            "ApiRoot",
            {
                "files": serializers.URLField(),
                "jobs": serializers.URLField(),
                "uploads": serializers.URLField(),
                "usage": serializers.URLField(),
                "schema": serializers.URLField(),
                "grpc_api": serializers.CharField(help_text="host:port of usp.v1.ApiService"),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "files": request.build_absolute_uri(reverse("files:file-list")),
                "jobs": request.build_absolute_uri(reverse("files:job-list")),
                "uploads": request.build_absolute_uri(reverse("files:upload-intents")),
                "usage": request.build_absolute_uri(reverse("files:usage")),
                "schema": request.build_absolute_uri(reverse("schema")),
                "grpc_api": _grpc_api_address(request),
            }
        )


def _grpc_api_address(request: Request) -> str:
    host, _port = split_domain_port(request.get_host())
    return f"{host}:{settings.USP.api_grpc_port}"


class FilePagination(StrictPageNumberPagination):
    page_size = 50


class FileListCreateApi(APIView):
    # A urlencoded form cannot carry a file: it is refused as 415, not read as empty.
    parser_classes = [MultiPartParser]
    upload_methods = ("POST",)  # throttled at the upload rate (webapp.core.throttling)
    pagination_class = FilePagination

    class UploadSerializer(serializers.Serializer[Any]):
        file = serializers.FileField(allow_empty_file=True, use_url=False)
        pipeline = PipelineTextField(
            required=False,
            help_text="Comma-separated step names, e.g. 'metadata,checksum'; "
            "empty for the default pipeline of the file's type.",
        )

    def get_serializer(self, *args: Any, **kwargs: Any) -> UploadSerializer:
        """The browsable API's upload form."""
        return self.UploadSerializer(*args, **kwargs)

    @extend_schema(
        operation_id="files_list",
        summary="Your files, newest first",
        responses={200: FileSerializer(many=True), **error_responses(401), **PAGE_NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(file_list(user=request.user), request, view=self)
        data = FileSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    def upload(self, request: Request) -> File:
        if not request.FILES.get("file"):
            raise InvalidInput(
                "Send the file as the multipart form field 'file'.", code="file_required"
            )
        serializer = self.UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pipeline = pipeline_parse(text=serializer.validated_data.get("pipeline", ""))
        return file_upload(
            owner=request.user, uploaded_file=serializer.validated_data["file"], pipeline=pipeline
        )

    @extend_schema(
        operation_id="files_upload",
        summary="Upload a file (multipart field 'file')",
        request=UploadSerializer,
        responses={201: FileSerializer, **error_responses(400, 401, 403, 413, 415, 503)},
    )
    def post(self, request: Request) -> Response:
        with streaming_to_storage(request._request, request.user):
            file = self.upload(request)
        file = file_get(user=request.user, file_id=file.pk)
        body = FileSerializer(file, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class FileDetailApi(APIView):
    @extend_schema(
        operation_id="files_retrieve",
        parameters=[FILE_ID],
        responses={200: FileSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, file_id: str) -> Response:
        file = file_get(user=request.user, file_id=file_id)
        return Response(FileSerializer(file, context={"request": request}).data)

    @extend_schema(
        operation_id="files_delete",
        parameters=[FILE_ID],
        summary="Delete the file, its bytes and its derivatives (an unfinished upload is "
        "aborted); its quota is released",
        responses={204: None, **error_responses(401, 403, 404, 503)},
    )
    def delete(self, request: Request, file_id: str) -> Response:
        file_delete(file=file_get(user=request.user, file_id=file_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnyAccept(DefaultContentNegotiation):
    """Downloads answer whatever the client accepts; errors still render as JSON.

    Parsers are chosen as usual: a session's POST has its CSRF token read from the body.
    """

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], str(renderers[0].media_type)


class _DownloadApi(APIView):
    """GET streams the bytes (Range: one range, 206); HEAD sends the same headers. With a
    separate user-content origin both answer 302 to a signed link there instead."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept

    def head(self, request: Request, file_id: str, kind: str = "") -> HttpResponseBase:
        return self.answer(request, file_id, kind)

    def answer(self, request: Request, file_id: str, kind: str = "") -> HttpResponseBase:
        file = file_get(user=request.user, file_id=file_id)
        if kind:
            target = derivative_content_target(file=file, kind=kind)
        else:
            target = file_content_target(file=file)
        return content_response(request, target, usercontent_link(file=file, kind=kind))


DOWNLOAD_RESPONSES = {
    # Served as the type storage sniffed from the bytes, whatever it is.
    (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The bytes"),
    (206, "*/*"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The range asked for (Content-Range)"
    ),
    302: OpenApiResponse(
        description="Only where user content has its own origin (USP_USERCONTENT_ORIGIN): "
        "Location is a signed link there that lives a few minutes and needs no credentials"
    ),
    304: OpenApiResponse(description="Not modified: If-None-Match names the content"),
}


class FileContentApi(_DownloadApi):
    @extend_schema(
        operation_id="files_content",
        parameters=[FILE_ID, RANGE, IF_NONE_MATCH],
        summary="The original bytes, as an attachment (ETag: its SHA-256; ranges)",
        responses={**DOWNLOAD_RESPONSES, **error_responses(401, 404, 409, 416, 503)},
    )
    def get(self, request: Request, file_id: str) -> HttpResponseBase:
        return self.answer(request, file_id)


class DerivativeContentApi(_DownloadApi):
    @extend_schema(
        operation_id="files_derivative_content",
        parameters=[FILE_ID, RANGE, IF_NONE_MATCH],
        summary="A derivative's bytes (e.g. kind 'thumbnail-256'), as an attachment",
        responses={**DOWNLOAD_RESPONSES, **error_responses(401, 404, 416, 503)},
    )
    def get(self, request: Request, file_id: str, kind: str) -> HttpResponseBase:
        return self.answer(request, file_id, kind)


# --- upload intents and usage ----------------------------------------------------------


class UploadIntentApi(APIView):
    parser_classes = [JSONParser]
    upload_methods = ("POST",)  # throttled at the upload rate (webapp.core.throttling)

    @extend_schema(
        operation_id="uploads_create",
        summary="Announce an upload; send its bytes to the returned upload_url",
        description="Checks the size limit, the type the name claims and your quotas, "
        "reserves the size, creates the file (state awaiting_upload) and opens a resumable "
        "upload session on the storage service. Send the bytes to `upload_url` with tus "
        "1.0.0 (PATCH with Upload-Offset) or one plain PUT; storage verifies size, SHA-256 "
        "and the type sniffed from the bytes.",
        parameters=[IDEMPOTENCY_KEY],
        request=UploadIntentCreateSerializer,
        responses={
            201: UploadIntentSerializer,
            **error_responses(400, 401, 403, 413, 415, 422, 503),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = UploadIntentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        intent = upload_intent_create(
            owner=request.user,
            request=serializer.intent_request(),
            idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
        )
        intent.file = file_get(user=request.user, file_id=intent.file_id)
        body = UploadIntentSerializer(intent, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class UsageApi(APIView):
    @extend_schema(
        operation_id="usage_retrieve",
        summary="Your usage and quotas (unfinished uploads count from their intent)",
        responses={200: UsageSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(UsageSerializer(usage_get(user=request.user)).data)
