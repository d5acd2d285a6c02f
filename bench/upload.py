"""How fast and how lean uploads are, measured in one run on one filesystem.

    python -m bench                 # 1 GiB and 256 MiB uploads, 400 small ones
    python -m bench --quick         # 64 MiB and 16 MiB, 100 small ones

a. a large upload through tus (PATCH straight to the upload URL, the body a generator)
   ÷ writing the same bytes with one fsync in a plain Python loop, run just before the
   uploads and again just after them, both runs together (all their bytes over all
   their time: a virtual disk's speed drifts);
b. the same through the webapp's multipart path (POST /api/v1/files/, streamed);
c. each service process's peak RSS above its idle RSS during the tus uploads;
d. 64 KiB uploads per second (intent + one PUT, which returns once committed)
   ÷ a minimal Django view saving to FileSystemStorage on the same waitress threads;
   beside it the CPU per upload of each side's processes (the system's RabbitMQ
   included when it runs on this machine) and of the bench client. For information,
   its floor: the same number of pairs of requests that only read, an authenticated
   GET /api/v1/usage/ (the token and the user's usage, which an intent reads too) and a
   HEAD of a pending upload on the data plane (its signature and session), timed the
   same way on the idle system: what an upload's two requests cost before any work.
"""

from __future__ import annotations

import argparse
import ast
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench import machine
from bench.client import TUS, BenchClient, RefusedError, authorization, check, session
from bench.cpu import cpu_by_service, cpu_ms_per_item
from bench.memory import RssSampler
from bench.payload import Payload
from bench.system import BenchSystem, started
from tests.e2e.system import ROOT
from tests.waiting import free_port

KIB, MIB, GIB = 1024, 1024**2, 1024**3
SMALL_SIZE = 64 * KIB
TARGETS = {"tus": 0.6, "multipart": 0.3, "rss": 100 * MIB, "small": 0.5}


@dataclass(frozen=True)
class Options:
    large: int
    medium: int
    chunk: int
    uploads: int
    threads: int
    cli: bool
    keep: bool


@dataclass(frozen=True)
class Timed:
    """A large upload's figure, size and duration, for a row once the baseline is in."""

    figure: str
    size: int
    seconds: float
    target: float | None


@dataclass(frozen=True)
class Row:
    figure: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    verdict: str = "info"


class Bench:
    """The measurements, in order, against one running system."""

    def __init__(self, system: BenchSystem, options: Options, workdir: Path) -> None:
        self.system = system
        self.options = options
        self.workdir = workdir
        self.client = BenchClient(system.url, system.token)
        self.auth = authorization(system.token)
        self.rows: list[Row] = []
        self.latencies: dict[str, list[float]] = {}
        self._seed = 0

    def run(self) -> list[Row]:
        large, medium = self.options.large, self.options.medium
        before = self.fsync_baseline(large)
        self.tus_memory(medium)
        timed = [self.tus_throughput(large)]
        if self.options.cli:
            timed.append(self.cli_throughput(large))
        timed.append(self.multipart_throughput(large))
        after = self.fsync_baseline(large)
        baseline = 2 * large / (before + after)
        self.rows.append(fsync_row(large / before, large / after))
        self.rows.extend(throughput_row(item, baseline) for item in timed)
        self.small_uploads()
        return sorted(self.rows, key=lambda row: row.figure[:2])

    def seed(self) -> int:
        self._seed += 1
        return self._seed

    def fsync_baseline(self, size: int) -> float:
        """Seconds to write `size` bytes in chunks from Python, one fsync at the end."""
        target = self.workdir / "baseline.bin"
        payload = Payload(size, block=self.options.chunk, seed=self.seed())
        started_at = time.perf_counter()
        with target.open("wb") as handle:
            for block in payload.blocks():
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        seconds = time.perf_counter() - started_at
        target.unlink()
        return seconds

    def tus_upload(self, size: int) -> tuple[float, RssSampler]:
        payload = Payload(size, block=self.options.chunk, seed=self.seed())
        with RssSampler(self.system.services) as sampler:
            started_at = time.perf_counter()
            intent = self.client.intent(f"tus-{payload.seed}.bin", size)
            self.client.tus_patch(intent["upload_url"], payload)
            seconds = time.perf_counter() - started_at
            sampler.mark()
            self.client.wait_settled(intent["file_id"])
        return seconds, sampler

    def tus_memory(self, size: int) -> None:
        _seconds, sampler = self.tus_upload(size)
        self.memory_rows(f"tus {human(size)}", sampler)

    def tus_throughput(self, size: int) -> Timed:
        seconds, sampler = self.tus_upload(size)
        self.memory_rows(f"tus {human(size)}", sampler)
        figure = f"a. tus {human(size)}, one streamed PATCH"
        return Timed(figure, size, seconds, TARGETS["tus"])

    def cli_throughput(self, size: int) -> Timed:
        """The CLI's own path: PATCHes of one chunk each, with Upload-Checksum."""
        from usp.cli.rest import RestClient
        from usp.cli.tus import TusClient
        from usp.cli.uploads import Uploader, UploadRequest

        source = self.workdir / "cli-source.bin"
        write_file(source, Payload(size, block=self.options.chunk, seed=self.seed()))
        request = UploadRequest(path=source, name=source.name, chunk_size=self.options.chunk)
        with RestClient(self.system.url, self.system.token) as rest, TusClient() as tus:
            started_at = time.perf_counter()
            resource = Uploader(rest, tus, request).run()
            seconds = time.perf_counter() - started_at
        source.unlink()
        self.client.wait_settled(str(resource["id"]))
        figure = f"a. usp upload {human(size)}: {human(self.options.chunk)} PATCHes + checksums"
        return Timed(figure, size, seconds, None)

    def multipart_throughput(self, size: int) -> Timed:
        try:
            return self.multipart_once(size)
        except RefusedError as refused:
            self.rows.append(
                Row(
                    f"b. multipart {human(size)} via the webapp",
                    "refused",
                    target=">= 0.3",
                    verdict="MISS",
                )
            )
            print(f"multipart {human(size)} refused: {refused}; measuring 1 MiB less", flush=True)
            return self.multipart_once(size - MIB)

    def multipart_once(self, size: int) -> Timed:
        payload = Payload(size, block=self.options.chunk, seed=self.seed())
        with RssSampler(self.system.services) as sampler:
            started_at = time.perf_counter()
            resource = self.client.multipart(f"multipart-{payload.seed}.bin", payload)
            seconds = time.perf_counter() - started_at
            self.client.wait_settled(str(resource["id"]))
        self.memory_rows(f"multipart {human(size)}", sampler, target=False)
        figure = f"b. multipart {human(size)} via the webapp"
        return Timed(figure, size, seconds, TARGETS["multipart"])

    def memory_rows(self, label: str, sampler: RssSampler, *, target: bool = True) -> None:
        """Each service's growth during the upload (when `target`: the figure the target
        is for), then, for information, during the upload and its processing."""
        if target:
            self.rss_rows(f"{label} upload", sampler, sampler.growth_at_mark(), target=True)
        self.rss_rows(f"{label} upload + processing", sampler, sampler.growth(), target=False)

    def rss_rows(
        self, label: str, sampler: RssSampler, growth: dict[str, int], *, target: bool
    ) -> None:
        limit = TARGETS["rss"]
        for name, grown in growth.items():
            self.rows.append(
                Row(
                    figure=f"c. {name} RSS over idle, {label}",
                    value=human(grown),
                    baseline=f"{human(sampler.idle[name])} idle",
                    target=f"<= {human(limit)}" if target else "-",
                    verdict=("PASS" if grown <= limit else "MISS") if target else "info",
                )
            )

    def small_uploads(self) -> None:
        count, threads = self.options.uploads, self.options.threads
        # The baseline first, while the system idles: ours leaves processing behind.
        with baseline_server(self.workdir / "baseline-media") as (url, pid):
            before = cpu_by_service({"baseline server": pid})
            theirs = uploads_per_second(
                lambda http, index: baseline_put(http, url, index), count=count, threads=threads
            )
            their_cpu = cpu_ms_per_item(before, cpu_by_service({"baseline server": pid}), count)
        floor = self.floor(theirs, their_cpu)
        self.latencies = {"intent": [], "PUT": []}
        before = cpu_by_service(self.system.cpu_processes)
        ours = uploads_per_second(self.intent_and_put, count=count, threads=threads)
        our_cpu = cpu_ms_per_item(before, cpu_by_service(self.system.cpu_processes), count)
        latencies = dict(self.latencies)
        self.rows.append(
            ratio_row(
                f"d. {human(SMALL_SIZE)} uploads/s, intent + PUT, {threads} threads",
                f"{ours:.1f}/s",
                f"{theirs:.1f}/s",
                ours / theirs,
                TARGETS["small"],
            )
        )
        self.rows.append(cpu_row(our_cpu, their_cpu))
        for step, seconds in latencies.items():
            self.rows.append(latency_row(f"d. {step}", seconds))
        self.rows.extend(floor)

    def floor(self, theirs: float, their_cpu: dict[str, float]) -> list[Row]:
        """d's floor, on the idle system: the two requests of an upload reduced to reads
        that change nothing (the token and the user's usage from the API, a pending
        upload's offset from the data plane), as many pairs as d's uploads, against the
        baseline's uploads."""
        count, threads = self.options.uploads, self.options.threads
        pending = [
            self.client.intent(f"floor-{index}.bin", SMALL_SIZE)["upload_url"]
            for index in range(threads)
        ]

        def reads(http: requests.Session, index: int) -> None:
            usage = http.get(f"{self.system.url}/api/v1/usage/", headers=self.auth, timeout=60)
            check(usage, 200)
            check(http.head(pending[index % threads], headers=TUS, timeout=60), 200)

        before = cpu_by_service(self.system.cpu_processes)
        try:
            ours = uploads_per_second(reads, count=count, threads=threads)
            our_cpu = cpu_ms_per_item(before, cpu_by_service(self.system.cpu_processes), count)
        finally:
            for upload_url in pending:
                check(self.client.data_plane.delete(upload_url, timeout=60), 204)
        figure = "d. floor: pairs of reads/s, GET /api/v1/usage/ + HEAD of a pending upload"
        return [
            ratio_row(figure, f"{ours:.1f}/s", f"{theirs:.1f}/s", ours / theirs, None),
            cpu_row(our_cpu, their_cpu, label="d. floor: CPU ms per pair of reads"),
        ]

    def intent_and_put(self, http: requests.Session, index: int) -> None:
        body = small_body(index)
        started_at = time.perf_counter()
        response = http.post(
            f"{self.system.url}/api/v1/uploads/",
            json={"name": f"small-{index}.bin", "size": SMALL_SIZE},
            headers=self.auth,
            timeout=60,
        )
        upload_url = check(response, 201).json()["upload_url"]
        intent_done = time.perf_counter()
        check(http.put(upload_url, data=body, timeout=60), 200, 201, 204)
        if index >= 0:  # not a warm-up
            self.latencies["intent"].append(intent_done - started_at)
            self.latencies["PUT"].append(time.perf_counter() - intent_done)


def throughput_row(timed: Timed, baseline: float) -> Row:
    """A large upload's rate against the write loop's (`baseline`, bytes per second)."""
    rate = timed.size / timed.seconds
    return ratio_row(
        timed.figure,
        f"{rate / MIB:.0f} MiB/s",
        f"{baseline / MIB:.0f} MiB/s",
        rate / baseline,
        timed.target,
    )


def fsync_row(before: float, after: float) -> Row:
    """The two write-loop runs (bytes per second) that a and b are measured against together."""
    return Row(
        figure="a/b. baseline: write + fsync loop just before / just after the uploads",
        value=f"{before / MIB:.0f} MiB/s, {after / MIB:.0f} MiB/s",
    )


def ratio_row(figure: str, value: str, baseline: str, ratio: float, target: float | None) -> Row:
    """A figure against its baseline; with a target, whether the ratio reaches it (three
    decimals, so that a ratio just under its target does not print as the target)."""
    return Row(
        figure=figure,
        value=value,
        baseline=baseline,
        ratio=f"{ratio:.3f}",
        target="-" if target is None else f">= {target}",
        verdict="info" if target is None else ("PASS" if ratio >= target else "MISS"),
    )


def cpu_row(
    ours: dict[str, float], theirs: dict[str, float], *, label: str = "d. CPU ms per upload"
) -> Row:
    """Where the CPU of a small upload (or of what `label` names) went, by process, beside
    the baseline's (its server and the same client); processing left behind counts only
    as far as it ran."""
    parts = ", ".join(f"{name} {value:.1f}" for name, value in ours.items())
    total, their_total = sum(ours.values()), sum(theirs.values())
    return Row(
        figure=f"{label}: {parts}",
        value=f"{total:.1f} ms",
        baseline=f"{their_total:.1f} ms",
        ratio=f"{their_total / total:.2f}",
    )


def latency_row(figure: str, seconds: Sequence[float]) -> Row:
    ordered = sorted(seconds)
    median = ordered[len(ordered) // 2]
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return Row(
        figure=f"{figure} latency, median / p95",
        value=f"{median * 1000:.0f} ms",
        baseline=f"p95 {p95 * 1000:.0f} ms",
    )


def small_body(index: int) -> bytes:
    return next(Payload(SMALL_SIZE, block=SMALL_SIZE, seed=1_000_000 + index).blocks())


def baseline_put(http: requests.Session, url: str, index: int) -> None:
    check(http.put(f"{url}/upload/", data=small_body(index), timeout=60), 201)


def uploads_per_second(
    upload: Callable[[requests.Session, int], None], *, count: int, threads: int
) -> float:
    """`count` uploads from `threads` client threads, after one warm-up upload each."""
    sessions = [session() for _ in range(threads)]
    errors: list[BaseException] = []
    for index, http in enumerate(sessions):
        upload(http, -1 - index)
    started_at = time.perf_counter()
    workers = [
        threading.Thread(
            target=_upload_share, args=(upload, http, range(i, count, threads), errors)
        )
        for i, http in enumerate(sessions)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started_at
    for http in sessions:
        http.close()
    if errors:
        raise errors[0]
    return count / seconds


def _upload_share(
    upload: Callable[[requests.Session, int], None],
    http: requests.Session,
    indexes: range,
    errors: list[BaseException],
) -> None:
    try:
        for index in indexes:
            upload(http, index)
    except BaseException as exc:
        errors.append(exc)


def web_threads() -> int:
    """The webapp's waitress thread count, read from its source (importing it would
    need the webapp's settings)."""
    source = (ROOT / "webapp" / "apigrpc" / "serving.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "WEB_THREADS" for t in node.targets
        ):
            return int(ast.literal_eval(node.value))
    raise RuntimeError("WEB_THREADS not found in webapp/apigrpc/serving.py")


@contextmanager
def baseline_server(media_root: Path) -> Iterator[tuple[str, int]]:
    """The minimal Django app of bench.baseline in a process of its own: its URL and
    process id."""
    media_root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable, "-m", "bench.baseline", "--port", str(port),
        "--media-root", str(media_root), "--threads", str(web_threads()),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/ready/", process)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the baseline server exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the baseline server did not answer at {url} in {timeout}s")


def write_file(path: Path, payload: Payload) -> None:
    with path.open("wb") as handle:
        for block in payload.blocks():
            handle.write(block)


def human(size: float) -> str:
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if abs(size) >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size:.0f} B"


def parse_size(text: str) -> int:
    units = {"K": KIB, "M": MIB, "G": GIB}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def table(rows: Sequence[Row]) -> str:
    header = Row("figure", "value", "baseline", "ratio", "target", "result")
    lines = [header, *rows]
    widths = [max(len(getattr(row, f)) for row in lines) for f in Row.__dataclass_fields__]
    out = []
    for i, row in enumerate(lines):
        cells = [getattr(row, f) for f in Row.__dataclass_fields__]
        out.append(
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="64 MiB and 16 MiB, 100 small uploads")
    parser.add_argument("--sizes", help="the large and the medium upload, e.g. 1G,256M")
    parser.add_argument("--chunk-size", default="8M", help="bytes per block (default 8M)")
    parser.add_argument("--uploads", type=int, help="small uploads to time (default 400)")
    parser.add_argument("--threads", type=int, default=8, help="client threads for small uploads")
    parser.add_argument("--no-cli", action="store_true", help="skip the `usp upload` figure")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    large, medium = (64 * MIB, 16 * MIB) if args.quick else (GIB, 256 * MIB)
    if args.sizes:
        large, medium = (parse_size(part) for part in args.sizes.split(","))
    return Options(
        large=large,
        medium=medium,
        chunk=parse_size(args.chunk_size),
        uploads=args.uploads or (100 if args.quick else 400),
        threads=args.threads,
        cli=not args.no_cli,
        keep=args.keep,
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(arguments)
    workdir = Path(tempfile.mkdtemp(prefix="usp-bench-"))
    load_before = machine.load_average()
    print(f"upload benchmark in {workdir}; starting the system…", flush=True)
    with started(workdir / "data", max_upload=max(options.large, options.medium) + MIB) as system:
        print(f"system: {system.mode}", flush=True)
        rows = Bench(system, options, workdir).run()
    load = f"{load_before:.2f} before the system started, {machine.load_average():.2f} at the end"
    report(rows, system, workdir, arguments, load)
    if not options.keep:
        subprocess.run(["rm", "-rf", str(workdir)], check=False)  # noqa: S603, S607
    return 0


def report(
    rows: Sequence[Row], system: BenchSystem, workdir: Path, arguments: list[str], load: str
) -> None:
    print()
    print(table(rows))
    print()
    for label, value in machine.describe(workdir):
        print(f"{label + ':':<12}{value}")
    print(f"{'load:':<12}1-minute average {load}")
    print(f"{'system:':<12}{system.mode}")
    print(f"{'processes:':<12}" + ", ".join(f"{n} pid {p}" for n, p in system.services.items()))
    print(f"{'command:':<12}" + shlex.join(["python", "-m", "bench", *arguments]))
