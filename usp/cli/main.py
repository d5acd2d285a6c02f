"""`usp`: upload files, list them, download them verified, watch their processing, and
retry or reprocess their jobs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from usp.cli import commands
from usp.cli.batch import DEFAULT_PARALLEL
from usp.cli.errors import CliError
from usp.cli.uploads import DEFAULT_CHUNK_SIZE

DEFAULT_WATCH_TIMEOUT = 600.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usp",
        description="Upload, store and process files on an upload-store-process server.",
        epilog="Environment: USP_CONFIG, USP_URL, USP_TOKEN, USP_GRPC_API, USP_CA.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_login(sub)
    _add_upload(sub)
    _add_ls(sub)
    _add_get(sub)
    _add_watch(sub)
    _add_jobs(sub)
    _add_retry(sub)
    _add_reprocess(sub)
    for command in sub.choices.values():
        _add_ca(command)
    return parser


def _add_login(sub: argparse._SubParsersAction) -> None:
    login = sub.add_parser("login", help="check and store the server URL and API token")
    login.add_argument("url", nargs="?", help="server URL (asked when omitted)")
    login.add_argument("--token", help="API token (asked, or read from stdin, when omitted)")
    login.set_defaults(handler=commands.login)


def _add_upload(sub: argparse._SubParsersAction) -> None:
    upload = sub.add_parser(
        "upload",
        help="upload files, resumably, with progress",
        description=(
            "Upload files: an upload intent per file, then the bytes in checksummed chunks "
            "to the signed location it returns. Run the same command again after an "
            "interruption and each file goes on from where the server has it."
        ),
    )
    upload.add_argument("files", nargs="+", metavar="FILE")
    upload.add_argument("--pipeline", help="steps to run, comma-separated (default: by type)")
    upload.add_argument(
        "--sha256",
        action="store_true",
        help="hash each file first and have the server verify the SHA-256 end to end",
    )
    upload.add_argument(
        "--parallel",
        type=_positive_int,
        default=DEFAULT_PARALLEL,
        metavar="N",
        help="files sent at once (default: %(default)s)",
    )
    upload.add_argument(
        "--chunk-size",
        type=_byte_size,
        default=DEFAULT_CHUNK_SIZE,
        metavar="SIZE",
        help="bytes per request, e.g. 8MiB or 512K (default: 8MiB)",
    )
    upload.add_argument(
        "--multipart",
        action="store_true",
        help="send each file in one multipart POST through the webapp (not resumable)",
    )
    _add_progress(upload)
    upload.set_defaults(handler=commands.upload)


def _add_ls(sub: argparse._SubParsersAction) -> None:
    ls = sub.add_parser("ls", help="list your files, newest first")
    ls.set_defaults(handler=commands.list_files)


def _add_get(sub: argparse._SubParsersAction) -> None:
    get = sub.add_parser("get", help="download a file, verified against its SHA-256")
    get.add_argument("id", metavar="ID")
    get.add_argument("-o", "--output", metavar="PATH", help="file or directory to save to")
    _add_progress(get)
    get.set_defaults(handler=commands.get)


def _add_watch(sub: argparse._SubParsersAction) -> None:
    watch = sub.add_parser("watch", help="follow a file's processing until ready or failed")
    watch.add_argument("id", metavar="ID")
    watch.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_WATCH_TIMEOUT,
        help="give up after this many seconds (default: %(default)g)",
    )
    watch.set_defaults(handler=commands.watch)


def _add_jobs(sub: argparse._SubParsersAction) -> None:
    jobs = sub.add_parser("jobs", help="list your files' jobs, newest first")
    jobs.add_argument(
        "--state", choices=("queued", "running", "succeeded", "failed"), help="only this state"
    )
    jobs.add_argument("--step", help="only this step, e.g. image.thumbnail")
    jobs.set_defaults(handler=commands.list_jobs)


def _add_retry(sub: argparse._SubParsersAction) -> None:
    retry = sub.add_parser("retry", help="run a failed job again")
    retry.add_argument("job_id", metavar="JOB_ID")
    retry.set_defaults(handler=commands.retry)


def _add_reprocess(sub: argparse._SubParsersAction) -> None:
    reprocess = sub.add_parser(
        "reprocess",
        help="process a stored file again",
        description="Run the file's steps again as new jobs (all its current steps, or "
        "the ones named with --steps).",
    )
    reprocess.add_argument("file_id", metavar="FILE_ID")
    reprocess.add_argument("--steps", help="steps to run, comma-separated (default: all)")
    reprocess.set_defaults(handler=commands.reprocess)


def _add_ca(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ca",
        metavar="PEM",
        help="trust the CA certificates in this file (a private CA) for HTTPS and the "
        "gRPC API, which is then reached over TLS; also USP_CA, and `login` stores it",
    )


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from exc
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return seconds


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from exc
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _byte_size(value: str) -> int:
    """`8388608`, `8M`, `8MiB`, `512k`, `1G`: binary multiples."""
    text = value.strip().lower().removesuffix("ib").removesuffix("b")
    number, unit = (text[:-1], text[-1]) if text[-1:] in _SIZE_UNITS else (text, "")
    try:
        size = int(number) * _SIZE_UNITS[unit]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a size: {value!r}") from exc
    if size < 1:
        raise argparse.ArgumentTypeError("must be at least 1 byte")
    return size


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are printed as `usp: <message>` with a non-zero status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"usp: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("usp: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"usp: {_describe_os_error(exc)}", file=sys.stderr)
        return 1


def _describe_os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


if __name__ == "__main__":
    sys.exit(main())
