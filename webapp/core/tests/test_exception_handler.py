from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousMultipartForm,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from webapp.core.errors import (
    ApplicationError,
    Conflict,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from webapp.core.views import server_error


def respond_to(exc: Exception) -> Response:
    class Failing(APIView):
        permission_classes = [AllowAny]
        authentication_classes: list[Any] = []

        def get(self, request: Request) -> Response:
            raise exc

    response = Failing.as_view()(APIRequestFactory().get("/api/v1/x"))
    response.render()
    return response


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (
            NotFound("No such file."),
            404,
            {"error": {"code": "not_found", "message": "No such file."}},
        ),
        (
            InvalidInput("Bad.", code="bad_thing", fields={"name": ["Too long."]}),
            400,
            {"error": {"code": "bad_thing", "message": "Bad.", "fields": {"name": ["Too long."]}}},
        ),
        (Conflict("Not yet."), 409, {"error": {"code": "conflict", "message": "Not yet."}}),
        (
            ServiceUnavailable("Later.", code="storage_unavailable"),
            503,
            {"error": {"code": "storage_unavailable", "message": "Later."}},
        ),
        (
            ApplicationError("Big.", code="too_large", http_status=413),
            413,
            {"error": {"code": "too_large", "message": "Big."}},
        ),
    ],
)
def test_domain_errors_become_their_status_and_code(
    exc: Exception, status: int, body: dict[str, Any]
) -> None:
    response = respond_to(exc)

    assert (response.status_code, response.data) == (status, body)


def test_validation_errors_list_their_fields() -> None:
    exc = serializers.ValidationError({"name": ["Too long."], "size": ["Must be positive."]})

    response = respond_to(exc)

    assert (response.status_code, response.data) == (
        400,
        {
            "error": {
                "code": "invalid_input",
                "message": "Invalid input. name: Too long.; size: Must be positive.",
                "fields": {"name": ["Too long."], "size": ["Must be positive."]},
            }
        },
    )


def test_validation_error_without_fields_is_its_message() -> None:
    response = respond_to(serializers.ValidationError("Nothing to do."))

    assert response.data == {"error": {"code": "invalid_input", "message": "Nothing to do."}}


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (exceptions.ParseError(), 400, "parse_error"),
        (exceptions.AuthenticationFailed(), 403, "authentication_failed"),
        (exceptions.PermissionDenied(), 403, "permission_denied"),
        (exceptions.NotFound(), 404, "not_found"),
        (exceptions.UnsupportedMediaType("text/csv"), 415, "unsupported_media_type"),
        (exceptions.NotAcceptable(), 406, "not_acceptable"),
        (Http404("gone"), 404, "not_found"),
        (DjangoPermissionDenied(), 403, "permission_denied"),
    ],
)
def test_drf_and_django_errors_get_a_stable_code(exc: Exception, status: int, code: str) -> None:
    response = respond_to(exc)

    assert (response.status_code, response.data["error"]["code"]) == (status, code)
    assert set(response.data["error"]) == {"code", "message"}


def test_throttled_keeps_its_retry_after_header() -> None:
    response = respond_to(exceptions.Throttled(wait=30))

    assert (response.status_code, response["Retry-After"], response.data) == (
        429,
        "30",
        {
            "error": {
                "code": "throttled",
                "message": "Request was throttled. Expected available in 30 seconds.",
            }
        },
    )


def test_unexpected_errors_are_a_500_without_internals(caplog: pytest.LogCaptureFixture) -> None:
    response = respond_to(RuntimeError("secret path /srv/data"))

    assert (response.status_code, response.data) == (
        500,
        {
            "error": {
                "code": "internal_error",
                "message": "Something went wrong on our side. It has been logged; please try "
                "again.",
            }
        },
    )
    assert [r.getMessage() for r in caplog.records] == ["unhandled error in API view"]
    assert caplog.records[0].exc_info is not None


@pytest.mark.parametrize(
    ("path", "content_type"), [("/api/v1/files/", "application/json"), ("/upload/", "text/html")]
)
def test_server_errors_are_json_on_api_paths_and_html_elsewhere(
    rf: RequestFactory, path: str, content_type: str
) -> None:
    response = server_error(rf.get(path))

    assert (response.status_code, response["Content-Type"].split(";")[0]) == (500, content_type)
    if content_type == "application/json":
        assert json.loads(response.content) == {
            "error": {
                "code": "internal_error",
                "message": "Something went wrong on our side. It has been logged; please try "
                "again.",
            }
        }


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (
            RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."),
            413,
            {
                "code": "too_large",
                "message": "The request body is too large: at most 2621440 bytes.",
            },
        ),
        (
            TooManyFieldsSent("settings.DATA_UPLOAD_MAX_NUMBER_FIELDS"),
            400,
            {
                "code": "too_many_fields",
                "message": "The request has too many fields: at most 1000.",
            },
        ),
        (
            TooManyFilesSent("settings.DATA_UPLOAD_MAX_NUMBER_FILES"),
            400,
            {"code": "too_many_files", "message": "The request has too many files: at most 100."},
        ),
        (
            SuspiciousMultipartForm("Invalid content in /srv/tmp"),
            400,
            {"code": "bad_request", "message": "The request could not be read."},
        ),
    ],
)
def test_django_refusals_of_a_request_body_are_4xx_without_their_internal_message(
    exc: Exception, status: int, body: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    response = respond_to(exc)

    assert (response.status_code, response.data) == (status, {"error": body})
    assert [r.getMessage() for r in caplog.records] == ["request body refused"]
