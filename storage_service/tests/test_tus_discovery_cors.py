"""tus discovery (OPTIONS), CORS for the webapp's origins, and the liveness path."""

from __future__ import annotations

from pathlib import Path

import requests

from storage_service.server import StorageServer
from storage_service.tests.conftest import make_settings
from storage_service.tests.tus import TUS, head, open_session, running, stub_for
from usp.v1 import storage_service_pb2_grpc

Stub = storage_service_pb2_grpc.StorageServiceStub
ALLOWED = "http://127.0.0.1:8000"
PREFLIGHT = {
    "Origin": ALLOWED,
    "Access-Control-Request-Method": "PATCH",
    "Access-Control-Request-Headers": "upload-offset, tus-resumable, content-type",
}
TUS_HEADERS = (
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Checksum-Algorithm",
    "Tus-Max-Size",
)


def test_options_announces_the_protocol_and_its_extensions(stub: Stub) -> None:
    url = open_session(stub, size=10).upload_url

    response = requests.options(url, timeout=10)

    assert response.status_code == 204
    assert {name: response.headers[name] for name in TUS_HEADERS} == {
        "Tus-Resumable": "1.0.0",
        "Tus-Version": "1.0.0",
        "Tus-Extension": "creation,creation-with-upload,termination,checksum,expiration",
        "Tus-Checksum-Algorithm": "sha256,sha1,md5",
        "Tus-Max-Size": str(5 * 1024**3),
    }


def test_preflight_from_an_allowed_origin_is_answered(stub: Stub) -> None:
    url = open_session(stub, size=10).upload_url

    response = requests.options(url, headers=PREFLIGHT, timeout=10)

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    allowed_methods = response.headers["Access-Control-Allow-Methods"].split(", ")
    assert {"PATCH", "HEAD", "POST", "PUT", "DELETE"} <= set(allowed_methods)
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower().split(", ")
    assert {"upload-offset", "tus-resumable", "content-type", "upload-checksum"} <= set(
        allowed_headers
    )
    assert response.headers["Vary"] == "Origin"


def test_preflight_from_another_origin_is_not_allowed(stub: Stub) -> None:
    url = open_session(stub, size=10).upload_url

    response = requests.options(
        url, headers={**PREFLIGHT, "Origin": "https://evil.example"}, timeout=10
    )

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


def test_responses_to_an_allowed_origin_expose_the_upload_headers(stub: Stub) -> None:
    url = open_session(stub, size=10).upload_url

    response = requests.head(url, headers={**TUS, "Origin": "http://localhost:8000"}, timeout=10)

    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
    exposed = response.headers["Access-Control-Expose-Headers"].split(", ")
    assert {"Upload-Offset", "Upload-Length", "Upload-Expires", "Location"} <= set(exposed)
    assert {"Tus-Resumable", "Tus-Version", "Tus-Max-Size", "Tus-Extension"} <= set(exposed)


def test_refusals_to_an_allowed_origin_are_readable_by_it(stub: Stub) -> None:
    url = open_session(stub, size=10).upload_url

    response = requests.patch(
        url, data=b"x", headers={**TUS, "Origin": ALLOWED, "Upload-Offset": "0"}, timeout=10
    )

    assert response.status_code == 415
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_responses_to_another_origin_carry_no_cors_headers(stub: Stub) -> None:
    url = open_session(stub, size=10).upload_url

    response = requests.head(url, headers={**TUS, "Origin": "https://evil.example"}, timeout=10)

    assert response.status_code == 200
    assert [name for name in response.headers if name.lower().startswith("access-control")] == []


def test_wildcard_origin_allows_any_origin(tmp_path: Path, namespace: str) -> None:
    settings = make_settings(tmp_path, namespace, USP_CORS_ORIGINS="*")
    with running(settings) as server, stub_for(server) as grpc_stub:
        url = open_session(grpc_stub, size=10).upload_url
        origin = "https://anywhere.example"

        response = requests.options(url, headers={**PREFLIGHT, "Origin": origin}, timeout=10)

        assert (response.status_code, response.headers["Access-Control-Allow-Origin"]) == (
            204,
            origin,
        )


def test_liveness_path_answers(server: StorageServer) -> None:
    response = requests.get(f"{server.public_url}/healthz", timeout=10)

    assert (response.status_code, response.text) == (200, "ok\n")


def test_head_of_a_location_carries_the_protocol_version(stub: Stub) -> None:
    url = open_session(stub, size=10).upload_url

    assert head(url).headers["Tus-Resumable"] == "1.0.0"
