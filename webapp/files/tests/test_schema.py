from __future__ import annotations

import re

import pytest
import yaml
from django.test import Client

try:
    from openapi_spec_validator import validate
except ImportError:  # optional: the structural checks below still run
    validate = None  # type: ignore[assignment]

pytestmark = pytest.mark.django_db


def test_schema_is_valid_openapi_3_describing_every_operation() -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    if validate is not None:
        validate(schema)
    assert schema["openapi"].startswith("3.")
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == {
        ("/api/v1/", "get"),
        ("/api/v1/files/", "get"),
        ("/api/v1/files/", "post"),
        ("/api/v1/files/{file_id}/", "get"),
        ("/api/v1/files/{file_id}/", "delete"),
        ("/api/v1/files/{file_id}/reprocess/", "post"),
        ("/api/v1/files/{file_id}/events", "get"),
        ("/api/v1/jobs/", "get"),
        ("/api/v1/jobs/{job_id}/retry/", "post"),
        ("/api/v1/files/{file_id}/content", "get"),
        ("/api/v1/files/{file_id}/derivatives/{kind}", "get"),
        ("/api/v1/uploads/", "post"),
        ("/api/v1/usage/", "get"),
        ("/api/v1/tokens/", "get"),
        ("/api/v1/tokens/", "post"),
        ("/api/v1/tokens/{token_id}/", "delete"),
    }
    upload = schema["paths"]["/api/v1/files/"]["post"]
    assert set(upload["requestBody"]["content"]) == {"multipart/form-data"}
    assert set(upload["responses"]) == {"201", "400", "401", "403", "413", "415", "429", "503"}
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A personal API token: `Token <key>` (or `Bearer <key>`).",
    }
    assert set(schema["components"]["schemas"]["File"]["properties"]) == {
        "id",
        "name",
        "size",
        "content_type",
        "sha256",
        "state",
        "error",
        "created_at",
        "metadata",
        "jobs",
        "derivatives",
        "content_url",
    }


def test_yaml_schema_is_served_too() -> None:
    response = Client().get("/api/schema/")

    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


def test_api_docs_load_their_assets_from_this_server_only() -> None:
    response = Client().get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in source for source in sources)
    assert [s for s in sources if s.startswith(("http:", "https:", "//"))] == []


def test_swagger_assets_are_served(client: Client) -> None:
    html = Client().get("/api/docs/").content.decode()
    bundle = re.search(r'src="([^"]+swagger-ui-bundle\.js)"', html)

    assert bundle is not None
    response = Client().get(bundle.group(1))
    assert response.status_code == 200


def test_schema_documents_upload_intents_usage_and_ranged_downloads() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    intent = schema["paths"]["/api/v1/uploads/"]["post"]
    content = schema["paths"]["/api/v1/files/{file_id}/content"]["get"]
    components = schema["components"]["schemas"]

    assert set(intent["requestBody"]["content"]) == {"application/json"}
    assert set(intent["responses"]) == {
        "201",
        "400",
        "401",
        "403",
        "413",
        "415",
        "422",
        "429",
        "503",
    }
    assert [(p["in"], p["name"]) for p in intent["parameters"]] == [("header", "Idempotency-Key")]
    assert components["UploadIntentCreateRequest"]["required"] == ["name", "size"]
    assert set(components["UploadIntent"]["properties"]) == {
        "file_id",
        "upload_url",
        "expires_at",
        "max_size",
        "file",
    }
    assert set(components["Usage"]["properties"]) == {
        "bytes_used",
        "bytes_limit",
        "files_used",
        "files_limit",
    }
    assert {"200", "206", "304", "416"} <= set(content["responses"])
    assert {(p["in"], p["name"]) for p in content["parameters"]} == {
        ("path", "file_id"),
        ("header", "Range"),
        ("header", "If-None-Match"),
    }
    assert "expired" in components["FileStateEnum"]["enum"]


def test_schema_documents_jobs_retries_reprocessing_and_live_events() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    jobs = paths["/api/v1/jobs/"]["get"]
    retry = paths["/api/v1/jobs/{job_id}/retry/"]["post"]
    reprocess = paths["/api/v1/files/{file_id}/reprocess/"]["post"]
    live = paths["/api/v1/files/{file_id}/events"]["get"]
    components = schema["components"]["schemas"]

    assert {(p["in"], p["name"]) for p in jobs["parameters"]} == {
        ("query", "state"),
        ("query", "step"),
        ("query", "page"),
    }
    assert set(retry["responses"]) == {"202", "401", "403", "404", "409", "429", "503"}
    assert "requestBody" not in retry
    assert set(reprocess["responses"]) == {
        "202",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "429",
        "503",
    }
    assert set(reprocess["requestBody"]["content"]) == {"application/json"}
    assert set(components["ReprocessRequest"]["properties"]) == {"steps"}
    assert set(live["responses"]["200"]["content"]) == {"text/event-stream"}
    assert set(components["Job"]["properties"]) == {
        "id",
        "file_id",
        "step",
        "state",
        "attempts",
        "error",
        "error_code",
        "error_class",
        "next_retry_at",
        "started_at",
        "finished_at",
    }


def test_every_operation_documents_the_throttled_answer() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    throttled = [
        operation["responses"].get("429")
        for item in schema["paths"].values()
        for operation in item.values()
    ]

    assert len(throttled) > 10
    for answer in throttled:
        assert answer["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 0}
        error = answer["content"]["application/json"]["schema"]["$ref"]
        assert error == "#/components/schemas/Error"
    assert "Error" in schema["components"]["schemas"]
