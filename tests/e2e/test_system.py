"""The whole system end to end: an image goes in through the REST API and comes out
ready, with a thumbnail that decodes and a SHA-256 that matches, on both deployments."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.system import (
    ApiClient,
    child_pids,
    create_user_with_token,
    running_system,
    system_env,
)


def photo_bytes() -> bytes:
    image = Image.new("RGB", (1200, 800), (30, 120, 200))
    for x in range(0, 1200, 50):
        image.paste((250, 200, 40), (x, 0, x + 20, 800))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def assert_image_goes_through(client: ApiClient) -> None:
    data = photo_bytes()
    created = client.upload("holiday photo.jpg", data)
    assert created["sha256"] == hashlib.sha256(data).hexdigest()
    assert created["size"] == len(data)

    resource = client.wait_until_settled(created["id"])

    assert resource["state"] == "ready", resource
    assert {job["step"]: job["state"] for job in resource["jobs"]} == {
        "image.metadata": "succeeded",
        "image.thumbnail": "succeeded",
        "checksum": "succeeded",
    }
    assert resource["metadata"]["image.metadata"]["width"] == 1200
    derivatives = {d["kind"]: d for d in resource["derivatives"]}
    assert sorted(derivatives) == ["thumbnail-1024", "thumbnail-256"]
    for kind, side in (("thumbnail-256", 256), ("thumbnail-1024", 1024)):
        decoded = Image.open(io.BytesIO(client.download(derivatives[kind]["url"]).content))
        decoded.load()
        assert (decoded.format, max(decoded.size)) == ("WEBP", side)
    original = client.download(created["content_url"]).content
    assert hashlib.sha256(original).hexdigest() == created["sha256"]


def assert_text_gets_the_text_pipeline(client: ApiClient) -> None:
    created = client.upload("notes.txt", b"just some words\n" * 10)
    resource = client.wait_until_settled(created["id"])
    assert resource["state"] == "ready", resource
    assert sorted(job["step"] for job in resource["jobs"]) == ["checksum", "text.stats"]
    assert resource["content_type"] == "text/plain"


def assert_non_image_fails_only_its_thumbnail(client: ApiClient) -> None:
    created = client.upload(
        "notes.jpg", b"not a picture at all\n", pipeline="metadata,checksum,image.thumbnail"
    )
    resource = client.wait_until_settled(created["id"])
    jobs = {job["step"]: job for job in resource["jobs"]}
    assert resource["state"] == "failed"
    assert jobs["metadata"]["state"] == "succeeded"
    assert jobs["checksum"]["state"] == "succeeded"
    assert jobs["image.thumbnail"]["state"] == "failed"
    assert "image" in jobs["image.thumbnail"]["error"].lower()
    assert resource["derivatives"] == []


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_image_upload_reaches_ready_across_separate_processes_on_rabbitmq(
    tmp_path: Path, rabbitmq_url: str, broker_namespace: str, postgres_databases: Callable[[], str]
) -> None:
    # Two databases: one for the webapp, one for storage; they share nothing.
    env = system_env(
        tmp_path,
        USP_BROKER_URL=rabbitmq_url,
        USP_BROKER_NAMESPACE=broker_namespace,
        USP_DATABASE_URL=postgres_databases(),
        USP_STORAGE_DATABASE_URL=postgres_databases(),
    )
    with running_system(env, "--processes") as system:
        assert len(child_pids(system.process.pid)) == 4
        token = create_user_with_token(env, "alice")
        client = ApiClient(system.url, token)
        assert_image_goes_through(client)
        assert_text_gets_the_text_pipeline(client)
        assert_non_image_fails_only_its_thumbnail(client)


def test_image_upload_reaches_ready_on_the_embedded_default(tmp_path: Path) -> None:
    env = system_env(tmp_path)
    with running_system(env) as system:
        token = create_user_with_token(env, "bob")
        client = ApiClient(system.url, token)
        assert_image_goes_through(client)
        assert_text_gets_the_text_pipeline(client)
        assert_non_image_fails_only_its_thumbnail(client)
