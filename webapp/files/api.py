"""The files REST API: each view validates, calls a service or selector, serializes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.http.request import split_domain_port
from django.urls import reverse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.core.errors import InvalidInput
from webapp.files.selectors import (
    Download,
    derivative_content_open,
    file_content_open,
    file_get,
    file_list,
)
from webapp.files.serializers import ErrorSerializer, FileSerializer
from webapp.files.services import file_delete, file_upload, pipeline_parse

ERRORS = {
    code: OpenApiResponse(ErrorSerializer, description=description)
    for code, description in {
        400: "Invalid input",
        401: "Not authenticated",
        403: "Forbidden (e.g. a missing CSRF token)",
        404: "Not one of your files",
        409: "Not in a state that allows this",
        503: "The storage service is unavailable",
    }.items()
}


FILE_ID = OpenApiParameter("file_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


class ApiRootApi(APIView):
    """Where things are: the files collection, the schema, and the gRPC ApiService."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="api_root",
        responses=inline_serializer(
            "ApiRoot",
            {
                "files": serializers.URLField(),
                "schema": serializers.URLField(),
                "grpc_api": serializers.CharField(help_text="host:port of usp.v1.ApiService"),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "files": request.build_absolute_uri(reverse("files:file-list")),
                "schema": request.build_absolute_uri(reverse("schema")),
                "grpc_api": _grpc_api_address(request),
            }
        )


def _grpc_api_address(request: Request) -> str:
    host, _port = split_domain_port(request.get_host())
    return f"{host}:{settings.USP.api_grpc_port}"


class FilePagination(PageNumberPagination):
    page_size = 50


class FileListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]
    pagination_class = FilePagination

    class UploadSerializer(serializers.Serializer[Any]):
        file = serializers.FileField(allow_empty_file=True, use_url=False)
        pipeline = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text="Comma-separated step names, e.g. 'metadata,checksum'; "
            "empty for the default pipeline of the file's type.",
        )

    def get_serializer(self, *args: Any, **kwargs: Any) -> UploadSerializer:
        """The browsable API's upload form."""
        return self.UploadSerializer(*args, **kwargs)

    @extend_schema(
        operation_id="files_list",
        summary="Your files, newest first",
        responses={200: FileSerializer(many=True), **_errors(401)},
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(file_list(user=request.user), request, view=self)
        data = FileSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="files_upload",
        summary="Upload a file (multipart field 'file')",
        request=UploadSerializer,
        responses={201: FileSerializer, **_errors(400, 401, 403, 503)},
    )
    def post(self, request: Request) -> Response:
        if not request.FILES.get("file"):
            raise InvalidInput(
                "Send the file as the multipart form field 'file'.", code="file_required"
            )
        serializer = self.UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pipeline = pipeline_parse(text=serializer.validated_data.get("pipeline", ""))
        file = file_upload(
            owner=request.user, uploaded_file=serializer.validated_data["file"], pipeline=pipeline
        )
        file = file_get(user=request.user, file_id=file.pk)
        body = FileSerializer(file, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class FileDetailApi(APIView):
    @extend_schema(
        operation_id="files_retrieve",
        parameters=[FILE_ID],
        responses={200: FileSerializer, **_errors(401, 404)},
    )
    def get(self, request: Request, file_id: str) -> Response:
        file = file_get(user=request.user, file_id=file_id)
        return Response(FileSerializer(file, context={"request": request}).data)

    @extend_schema(
        operation_id="files_delete",
        parameters=[FILE_ID],
        summary="Delete the file, its bytes and its derivatives",
        responses={204: None, **_errors(401, 403, 404, 503)},
    )
    def delete(self, request: Request, file_id: str) -> Response:
        file_delete(file=file_get(user=request.user, file_id=file_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class _AnyAccept(BaseContentNegotiation):
    """Downloads answer whatever the client accepts; errors still render as JSON."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], str(renderers[0].media_type)


class _DownloadApi(APIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AnyAccept


BINARY = {(200, "application/octet-stream"): OpenApiTypes.BINARY}


class FileContentApi(_DownloadApi):
    @extend_schema(
        operation_id="files_content",
        parameters=[FILE_ID],
        summary="The original bytes, as an attachment",
        responses={**BINARY, **_errors(401, 404, 409, 503)},
    )
    def get(self, request: Request, file_id: str) -> StreamingHttpResponse:
        file = file_get(user=request.user, file_id=file_id)
        return _attachment(file_content_open(file=file))


class DerivativeContentApi(_DownloadApi):
    @extend_schema(
        operation_id="files_derivative_content",
        parameters=[FILE_ID],
        summary="A derivative's bytes (e.g. kind 'thumbnail-256'), as an attachment",
        responses={**BINARY, **_errors(401, 404, 503)},
    )
    def get(self, request: Request, file_id: str, kind: str) -> StreamingHttpResponse:
        file = file_get(user=request.user, file_id=file_id)
        return _attachment(derivative_content_open(file=file, kind=kind))


def _attachment(download: Download) -> StreamingHttpResponse:
    response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
    response["Content-Length"] = str(download.size)
    response["Content-Disposition"] = content_disposition_header(True, download.filename)
    response["X-Content-Type-Options"] = "nosniff"
    # Stored bytes are never a page of this site, even if a browser opened them.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-cache"
    return response
