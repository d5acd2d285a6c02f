"""`usp jobs`, `usp retry` and `usp reprocess` against a canned HTTP API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from usp.cli.main import main
from usp.cli.tests.fakes import FakeHttpApi, Reply
from usp.cli.tests.test_main import FILE_ID, logged_in, resource

JOB_ID = "9b2f6c1e-0d4a-4f7b-8e21-5a6c7d8e9f01"
OTHER_JOB = "9b2f6c1e-0d4a-4f7b-8e21-5a6c7d8e9f02"


def job(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": JOB_ID,
        "file_id": FILE_ID,
        "step": "image.thumbnail",
        "state": "failed",
        "attempts": 2,
        "error": "The file is not an image (not_an_image)",
        "error_code": "not_an_image",
        "error_class": "permanent",
        "next_retry_at": None,
        "started_at": "2025-01-01T00:00:00Z",
        "finished_at": "2025-01-01T00:00:01Z",
    }
    return {**base, **overrides}


HEADER = (
    "JOB                                   FILE                                  "
    "STEP              STATE      ATTEMPTS  ERROR"
)


def line(job_id: str, step: str, state: str, attempts: int, error: str = "") -> str:
    return f"{job_id}  {FILE_ID}  {step:<16}  {state:<9}  {attempts:>8}  {error}".rstrip()


def test_jobs_lists_filtered_jobs_across_pages(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    first = "/api/v1/jobs/?state=failed&step=image.thumbnail"
    second = "/api/v1/jobs/?page=2&state=failed&step=image.thumbnail"
    page = {"count": 2, "previous": None}
    http_api.json("GET", first, {**page, "next": http_api.url + second, "results": [job()]})
    waiting = job(id=OTHER_JOB, state="queued", error="storage timed out (timeout)")
    http_api.json("GET", second, {**page, "next": None, "results": [waiting]})

    assert main(["jobs", "--state", "failed", "--step", "image.thumbnail"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        HEADER,
        line(JOB_ID, "image.thumbnail", "failed", 2, "The file is not an image (not_an_image)"),
        line(OTHER_JOB, "image.thumbnail", "queued", 2, "storage timed out (timeout) (will retry)"),
    ]
    assert [r.path for r in http_api.requests] == [first, second]


def test_jobs_with_none_says_so(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    empty: dict[str, Any] = {"count": 0, "next": None, "previous": None, "results": []}
    http_api.json("GET", "/api/v1/jobs/", empty)

    assert main(["jobs"]) == 0

    assert capsys.readouterr()[:] == ("", "no jobs\n")


def test_jobs_refuses_an_unknown_state_before_asking_the_server(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)

    with pytest.raises(SystemExit) as exited:
        main(["jobs", "--state", "exploded"])

    assert exited.value.code == 2
    assert "invalid choice: 'exploded'" in capsys.readouterr().err
    assert http_api.requests == []


def test_retry_posts_to_the_job_and_prints_it_queued(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    queued = job(state="queued", error="", error_code="", error_class="", finished_at=None)
    http_api.json("POST", f"/api/v1/jobs/{JOB_ID}/retry/", queued, status=202)

    assert main(["retry", JOB_ID]) == 0

    assert capsys.readouterr().out.splitlines() == [
        HEADER,
        line(JOB_ID, "image.thumbnail", "queued", 2),
    ]
    assert [(r.method, r.path) for r in http_api.requests] == [
        ("POST", f"/api/v1/jobs/{JOB_ID}/retry/")
    ]


def test_retry_of_a_job_that_did_not_fail_shows_the_servers_reason(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    error = {"code": "not_failed", "message": "Only a failed job can be retried."}
    http_api.json("POST", f"/api/v1/jobs/{JOB_ID}/retry/", {"error": error}, status=409)

    assert main(["retry", JOB_ID]) == 1

    assert capsys.readouterr().err == "usp: Only a failed job can be retried.\n"


def test_reprocess_sends_the_chosen_steps_and_prints_the_file_and_its_jobs(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    new = job(id=OTHER_JOB, state="queued", attempts=0, error="")
    http_api.json(
        "POST",
        f"/api/v1/files/{FILE_ID}/reprocess/",
        resource(state="processing", jobs=[new]),
        status=202,
    )

    assert main(["reprocess", FILE_ID, "--steps", "image.thumbnail, checksum"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        f"{FILE_ID}  photo.jpg  processing",
        HEADER,
        line(OTHER_JOB, "image.thumbnail", "queued", 0),
    ]
    (request,) = http_api.requests
    assert json.loads(request.body) == {"steps": ["image.thumbnail", "checksum"]}


def test_reprocess_without_steps_sends_an_empty_body(
    http_api: FakeHttpApi, cli_environment: Path
) -> None:
    logged_in(cli_environment, http_api)
    http_api.json("POST", f"/api/v1/files/{FILE_ID}/reprocess/", resource(), status=202)

    assert main(["reprocess", FILE_ID]) == 0

    assert json.loads(http_api.requests[0].body) == {}


def throttled_once(queued: dict[str, Any], retry_after: str) -> Any:
    """A handler that answers 429 with `retry_after` first, then 202 with `queued`."""
    calls: list[int] = []

    def handle(_request: Any) -> Reply:
        calls.append(1)
        if len(calls) == 1:
            error = {"error": {"code": "throttled", "message": "Request was throttled."}}
            return Reply(429, json.dumps(error).encode(), headers={"Retry-After": retry_after})
        return Reply(202, json.dumps(queued).encode())

    return handle


def test_a_throttled_request_waits_as_told_and_is_sent_again(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    queued = job(state="queued", error="", error_code="", error_class="", finished_at=None)
    http_api.handlers[("POST", f"/api/v1/jobs/{JOB_ID}/retry/")] = throttled_once(queued, "1")

    started_at = time.monotonic()
    assert main(["retry", JOB_ID]) == 0

    assert time.monotonic() - started_at >= 1.0
    assert capsys.readouterr().out.splitlines() == [
        HEADER,
        line(JOB_ID, "image.thumbnail", "queued", 2),
    ]
    assert [(r.method, r.path) for r in http_api.requests] == [
        ("POST", f"/api/v1/jobs/{JOB_ID}/retry/"),
        ("POST", f"/api/v1/jobs/{JOB_ID}/retry/"),
    ]


def test_a_throttled_request_asked_to_wait_too_long_reports_the_refusal(
    http_api: FakeHttpApi, cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logged_in(cli_environment, http_api)
    queued = job(state="queued")
    http_api.handlers[("POST", f"/api/v1/jobs/{JOB_ID}/retry/")] = throttled_once(queued, "3600")

    assert main(["retry", JOB_ID]) == 1

    assert capsys.readouterr().err == "usp: Request was throttled.\n"
    assert len(http_api.requests) == 1
