"""The `usp` commands. Each takes the parsed arguments and returns the exit status."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from pathlib import Path

from usp.cli.batch import Batch, BatchOptions
from usp.cli.config import (
    DEFAULT_URL,
    Settings,
    config_path,
    load_settings,
    normalize_url,
    read_settings,
    write_settings,
)
from usp.cli.download import default_destination, save_verified
from usp.cli.errors import CliError
from usp.cli.grpc_client import ApiClient, FileStatus, grpc_target
from usp.cli.output import (
    human_size,
    job_header,
    job_row,
    progress_bar,
    result_line,
    table_header,
    table_row,
    watch_line,
)
from usp.cli.rest import RestClient


def login(args: argparse.Namespace) -> int:
    """Check the token against the server, then store URL, token and gRPC address."""
    path = config_path()
    stored = read_settings(path)
    url = normalize_url(args.url or _ask_url(os.environ.get("USP_URL") or stored.url))
    token = (args.token or _read_token()).strip()
    if not token:
        raise CliError("no API token given")
    ca = args.ca or os.environ.get("USP_CA", "") or stored.ca
    with RestClient(url, token, ca=ca) as client:
        root = client.verify_token()
    grpc_api = str(root.get("grpc_api", ""))
    write_settings(path, Settings(url=url, token=token, grpc_api=grpc_api, ca=ca))
    print(f"logged in to {url}; settings saved to {path}")
    return 0


def _ask_url(remembered: str) -> str:
    default = remembered or DEFAULT_URL
    if not sys.stdin.isatty():
        return default
    return input(f"Server URL [{default}]: ").strip() or default


def _read_token() -> str:
    """getpass on a terminal; otherwise the first line of stdin (`echo $T | usp login`)."""
    if sys.stdin.isatty():
        return getpass.getpass("API token: ")
    return sys.stdin.readline()


def upload(args: argparse.Namespace) -> int:
    """Upload the files, a few at a time; one failed file does not stop the others."""
    paths = [Path(name) for name in args.files]
    for path in paths:
        if not path.is_file():
            raise CliError(f"{path}: no such file")
    options = BatchOptions(
        pipeline=_split_pipeline(args.pipeline),
        chunk_size=args.chunk_size,
        sha256=args.sha256,
        multipart=args.multipart,
        parallel=args.parallel,
        progress=args.progress,
    )
    return Batch(load_settings(ca=args.ca), options).run(paths)


def _split_pipeline(value: str | None) -> list[str]:
    return [step.strip() for step in (value or "").split(",") if step.strip()]


def list_files(args: argparse.Namespace) -> int:
    """A table of the caller's files, newest first, every page."""
    settings = load_settings(ca=args.ca)
    shown = 0
    with RestClient(settings.url, settings.token, ca=settings.ca) as client:
        for resource in client.iter_files():
            if not shown:
                print(table_header())
            print(table_row(resource), flush=True)
            shown += 1
    if not shown:
        print("no files yet", file=sys.stderr)
    return 0


def list_jobs(args: argparse.Namespace) -> int:
    """A table of the caller's current jobs, newest first, every page."""
    settings = load_settings(ca=args.ca)
    shown = 0
    with RestClient(settings.url, settings.token, ca=settings.ca) as client:
        for job in client.iter_jobs(state=args.state or "", step=args.step or ""):
            if not shown:
                print(job_header())
            print(job_row(job), flush=True)
            shown += 1
    if not shown:
        print("no jobs", file=sys.stderr)
    return 0


def retry(args: argparse.Namespace) -> int:
    """Run a failed job again and print it, queued."""
    settings = load_settings(ca=args.ca)
    with RestClient(settings.url, settings.token, ca=settings.ca) as client:
        job = client.retry_job(args.job_id)
    print(job_header())
    print(job_row(job))
    return 0


def reprocess(args: argparse.Namespace) -> int:
    """Process a stored file again and print it with its jobs."""
    settings = load_settings(ca=args.ca)
    with RestClient(settings.url, settings.token, ca=settings.ca) as client:
        resource = client.reprocess_file(args.file_id, steps=_split_pipeline(args.steps))
    print(result_line(resource))
    print(job_header())
    for job in resource.get("jobs", []):
        print(job_row(job))
    return 0


def get(args: argparse.Namespace) -> int:
    """Download a file's content, verified against its SHA-256, atomically."""
    settings = load_settings(ca=args.ca)
    with RestClient(settings.url, settings.token, ca=settings.ca) as client:
        resource = client.get_file(args.id)
        expected = str(resource.get("sha256") or "")
        if not expected:
            raise CliError(f"file {args.id} has no content yet (state: {resource.get('state')})")
        destination = _destination(args.output, str(resource.get("name", "")))
        bar, advance = progress_bar(
            total=int(resource.get("size") or 0), label=destination.name, enabled=args.progress
        )
        with bar:
            size = save_verified(
                client.download(resource),
                destination,
                expected_sha256=expected,
                on_progress=advance,
            )
    print(f"{destination}  {human_size(size)}  sha256 {expected[:12]}… verified")
    return 0


def _destination(output: str | None, name: str) -> Path:
    if not output:
        return default_destination(name)
    path = Path(output).expanduser()
    if path.is_dir():
        return path / default_destination(name)
    if not path.parent.is_dir():
        raise CliError(f"{path.parent}: no such directory")
    return path


def watch(args: argparse.Namespace) -> int:
    """Follow a file's processing live: 0 when it ends ready, 1 when it ends failed."""
    settings = load_settings(ca=args.ca)
    target = grpc_target(_grpc_api(settings), settings.url)
    last_line, final = "", None
    with ApiClient(target, settings.token, tls=settings.grpc_tls, ca=settings.ca) as api:
        for status in api.watch_file(args.id, timeout=args.timeout):
            final = status
            line = watch_line(status)
            if line != last_line:
                print(f"{time.strftime('%H:%M:%S')}  {line}", flush=True)
                last_line = line
            if status.terminal:
                break
    return _watch_outcome(args.id, final)


def _grpc_api(settings: Settings) -> str:
    if settings.grpc_api:
        return settings.grpc_api
    with RestClient(settings.url, settings.token, ca=settings.ca) as client:
        announced = str(client.root().get("grpc_api") or "")
    if not announced:
        raise CliError(f"{settings.url} does not announce a gRPC API address")
    return announced


def _watch_outcome(file_id: str, final: FileStatus | None) -> int:
    if final is None or not final.terminal:
        state = final.state if final else "unknown"
        raise CliError(f"the watch of file {file_id} ended while it was {state}")
    if final.state == "ready":
        return 0
    for job in final.jobs:
        if job.state == "failed":
            print(f"usp: {job.step} failed: {job.error or 'no reason given'}", file=sys.stderr)
    return 1
