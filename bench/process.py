"""How fast uploads are processed, measured in one run on RabbitMQ with separate processes.

    python -m bench.process             # 200 JPEGs of 1600x1200, 100 latency uploads
    python -m bench.process --quick     # 40 JPEGs, 30 latency uploads

e. thumbnails per second from commit to thumbnail-256 stored, with two processor
   processes (`python -m usp.run --processes` plus a second `python -m processor_service`
   on the same environment) ÷ the same step function (processor_service.steps.thumbnail's
   run, the worker's StepOptions) in a tight loop in a pool of as many processes, which
   start with the environment the processor gives its decoders (huge pages). The
   images are uploaded and committed while the processors are stopped, so their jobs
   wait in RabbitMQ; the clock runs from the processors going on to the last thumbnail
   stored: the jobs, storage serving them and the webapp applying their events are in
   the figure, the uploads before the commit are not (the baseline uploads nothing).
   The images go through in ROUNDS rounds, each timed so, with a run of the baseline
   on the same images before the first round and after each one; the figure is all
   the rounds together against all the baseline runs together (all their images over
   all their time). This virtual machine's speed drifts by several percent within
   minutes: a single baseline run on one side of one long timed run would carry that
   drift into the ratio, and alternating them spreads it over both sides.
   The uploads name their pipeline, `image.thumbnail` alone, so the system does the
   work the baseline does (both sizes, same decode and encode) and no other step.
   Beside it, the CPU time each process (with its children) spent per image, RabbitMQ
   included when it runs on this machine, and what the step alone took per image in
   the baseline: with both runs using every core, e cannot be above that CPU ratio.
   For information, the same with as many other images uploaded meanwhile, from the
   first commit to the last thumbnail;
f. commit -> job-start latency: for uploads made one at a time on an idle system, the
   time from the PUT's response (the commit) to the start of the file's first job, read
   from a queue bound to "<ns>.events": the occurred_at of its job.started event, or the
   started_at its end carries when it ended before the processor's started delay, minus
   the client's clock at the response (both clocks are this machine's).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import multiprocessing
import multiprocessing.pool
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import kombu
import pika
from google.protobuf.timestamp_pb2 import Timestamp
from PIL import Image

from bench import machine
from bench.client import BenchClient
from bench.cpu import cpu_by_service, cpu_spent, ms_per_item, own_cpu_seconds
from bench.system import RABBITMQ_URL, BenchSystem, rabbitmq_reachable, started
from bench.upload import MIB, Row, ratio_row, table
from processor_service import sandbox
from processor_service.actors import step_options
from processor_service.settings import Settings
from processor_service.steps import StepInput, StepOptions, thumbnail
from tests.e2e.system import ROOT
from usp.events import decode, exchange
from usp.jobs import process_queue
from usp.v1 import common_pb2, processor_service_pb2

TARGETS = {"throughput": 0.8, "p50": 0.020, "p99": 0.100}
THUMBNAIL_STEP = "image.thumbnail"
THUMBNAIL_KIND = "thumbnail-256"
IMAGE_SIZE = (1600, 1200)
PROCESSORS = 2
ROUNDS = 4
UPLOAD_THREADS = 8
WAIT_SECONDS = 900.0
# The events each phase reads: f times the jobs' start, which job.started tells, or the
# job's end for a job that ends sooner than the processor's started delay; e waits for
# the commits (file.stored) and the thumbnails.
LATENCY_EVENTS = ("job.started", "job.succeeded", "job.failed")
THROUGHPUT_EVENTS = ("file.stored", "job.succeeded", "job.failed")


@dataclass(frozen=True)
class Options:
    images: int
    latency_uploads: int
    keep: bool


def _seconds(timestamp: Timestamp) -> float:
    return timestamp.ToNanoseconds() / 1e9


@dataclass
class EventLog:
    """What the bench's own queue on the event exchange has seen, by file."""

    stored: set[str] = field(default_factory=set)
    first_start: dict[str, float] = field(default_factory=dict)
    thumbnail_done: dict[str, float] = field(default_factory=dict)
    reused: int = 0
    failed: list[str] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def record(self, body: bytes) -> None:
        envelope = decode(body)
        at = _seconds(envelope.occurred_at)
        with self.condition:
            if envelope.type == "file.stored":
                self.stored.add(envelope.file_id)
            elif envelope.type == "job.started":
                self._began(envelope.file_id, at)
            elif envelope.type == "job.succeeded":
                self._succeeded(envelope.file_id, envelope, at)
            elif envelope.type == "job.failed":
                self._failed(envelope.file_id, envelope)
            self.condition.notify_all()

    def _began(self, file_id: str, at: float) -> None:
        """A job of the file began `at`: told by job.started, or, for a job that ended
        before the processor's started delay, by its end."""
        self.first_start[file_id] = min(self.first_start.get(file_id, at), at)

    def _succeeded(self, file_id: str, envelope: common_pb2.EventEnvelope, at: float) -> None:
        payload = processor_service_pb2.JobSucceeded()
        envelope.payload.Unpack(payload)
        self._began(file_id, _seconds(payload.started_at))
        self.reused += int(payload.reused)
        kinds = {derivative.kind for derivative in payload.derivatives}
        if payload.step == THUMBNAIL_STEP and THUMBNAIL_KIND in kinds:
            self.thumbnail_done[file_id] = at

    def _failed(self, file_id: str, envelope: common_pb2.EventEnvelope) -> None:
        payload = processor_service_pb2.JobFailed()
        envelope.payload.Unpack(payload)
        self._began(file_id, _seconds(payload.started_at))
        self.failed.append(file_id)

    def settled(self, file_id: str) -> Callable[[], bool]:
        return lambda: file_id in self.thumbnail_done or file_id in self.failed

    def wait(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        with self.condition:
            if not self.condition.wait_for(ready, timeout=timeout):
                raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def listening(namespace: str, log: EventLog, phase: str, keys: Sequence[str]) -> Iterator[None]:
    """A queue of the bench's own bound to the events `keys`, drained into `log` by a
    thread. Each phase binds only what it reads: every event the bench receives costs
    RabbitMQ and the bench CPU that the figures count."""
    stop = threading.Event()
    connection = kombu.Connection(RABBITMQ_URL)
    events = exchange(namespace)
    queue = kombu.Queue(
        f"{namespace}.bench.{phase}",
        exchange=events,
        bindings=[kombu.binding(events, routing_key=key) for key in keys],
        exclusive=True,
        auto_delete=True,
    )

    def on_message(message: kombu.Message) -> None:
        log.record(message.body)
        message.ack()

    with connection.Consumer([queue], on_message=on_message, accept=None):
        # Declared (and bound) before anything is uploaded; drained by this thread only.
        def drain() -> None:
            while not stop.is_set():
                try:
                    connection.drain_events(timeout=0.2)
                except TimeoutError:
                    continue

        thread = threading.Thread(target=drain, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
    connection.release()


@contextmanager
def second_processor(system: BenchSystem, workdir: Path) -> Iterator[int]:
    """One more `python -m processor_service` on the system's environment, until it
    consumes from the process queue beside the supervised one."""
    env = system.running.env
    with (workdir / "processor-2.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "processor_service"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_consumers(process_queue(env["USP_BROKER_NAMESPACE"]), PROCESSORS, process)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def stopped(pids: list[int]) -> Iterator[None]:
    """The processes stopped (SIGSTOP) until the block ends; messages RabbitMQ sends
    them meanwhile wait in their sockets."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def wait_for_consumers(queue: str, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = connection.channel()
        while channel.queue_declare(queue=queue, passive=True).method.consumer_count < count:
            if process.poll() is not None:
                raise RuntimeError(f"the second processor exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{queue} has fewer than {count} consumers after 60s")
            time.sleep(0.1)
    finally:
        connection.close()


def base_image() -> Image.Image:
    """A photograph-like 1600x1200 picture: gradients with some grain."""
    red = Image.linear_gradient("L").resize(IMAGE_SIZE)
    green = Image.radial_gradient("L").resize(IMAGE_SIZE)
    blue = Image.effect_noise(IMAGE_SIZE, 24).point(lambda value: value // 2 + 64)
    return Image.merge("RGB", (red, green, blue))


def unique_images(base: Image.Image, count: int, *, image_format: str) -> list[bytes]:
    """`count` encodings of `base`, each with one pixel of its own."""
    encoded: list[bytes] = []
    for index in range(count):
        copy = base.copy()
        copy.putpixel((index % copy.width, index // copy.width % copy.height), (index % 251, 7, 9))
        buffer = io.BytesIO()
        copy.save(buffer, format=image_format, quality=90)
        encoded.append(buffer.getvalue())
    return encoded


@dataclass(frozen=True)
class Baseline:
    """Runs of the step alone: how many images, in how long, and its CPU time."""

    images: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.images / self.seconds

    @property
    def cpu_ms_per_image(self) -> float:
        return 1000 * self.cpu_seconds / self.images

    @staticmethod
    def together(runs: Sequence[Baseline]) -> Baseline:
        """Several runs as one: all their images over all their time."""
        return Baseline(
            sum(run.images for run in runs),
            sum(run.seconds for run in runs),
            sum(run.cpu_seconds for run in runs),
        )


@dataclass(frozen=True)
class Released:
    """Timed e rounds: how many images, how long, and the CPU seconds each service
    spent meanwhile."""

    images: int
    seconds: float
    cpu: dict[str, float]
    rounds: int = 1

    @staticmethod
    def together(runs: Sequence[Released]) -> Released:
        return Released(
            sum(run.images for run in runs),
            sum(run.seconds for run in runs),
            {name: sum(run.cpu[name] for run in runs) for name in runs[0].cpu},
            sum(run.rounds for run in runs),
        )


def _thumbnail_once(arguments: tuple[bytes, StepOptions]) -> float:
    """The CPU seconds one run of the step took."""
    data, options = arguments
    started_at = time.process_time()
    source = StepInput(hashlib.sha256(data).hexdigest(), len(data), "image/jpeg")
    result = thumbnail.run(io.BytesIO(data), source, options)
    if len(result.derivatives) != len(options.thumbnail_sizes):
        raise RuntimeError("the step made fewer thumbnails than sizes")
    return time.process_time() - started_at


@contextmanager
def decoder_environment() -> Iterator[None]:
    """This process's environment as the processor sets it for its decoders (see
    sandbox.prefer_huge_pages), while the baseline's processes start."""
    saved = os.environ.get(sandbox.TUNABLES_VARIABLE)
    sandbox.prefer_huge_pages(os.environ)
    try:
        yield
    finally:
        if saved is None:
            del os.environ[sandbox.TUNABLES_VARIABLE]
        else:
            os.environ[sandbox.TUNABLES_VARIABLE] = saved


@contextmanager
def baseline_pool(warm_up: bytes, options: StepOptions) -> Iterator[multiprocessing.pool.Pool]:
    """PROCESSORS processes started with the decoders' environment, each having run the
    step once."""
    with decoder_environment():
        pool = multiprocessing.get_context("spawn").Pool(PROCESSORS)
    with pool:
        pool.map(_thumbnail_once, [(warm_up, options)] * PROCESSORS)
        yield pool


def baseline_run(
    pool: multiprocessing.pool.Pool, images: list[bytes], options: StepOptions
) -> Baseline:
    """The step function alone on every image, in the pool."""
    started_at = time.perf_counter()
    cpu = pool.map(_thumbnail_once, [(image, options) for image in images], chunksize=1)
    return Baseline(len(images), time.perf_counter() - started_at, sum(cpu))


def in_rounds(images: list[bytes], rounds: int) -> list[list[bytes]]:
    """`images` in `rounds` parts (fewer when there are fewer images) whose sizes differ
    by one at most."""
    count = min(rounds, len(images))
    bounds = [len(images) * index // count for index in range(count + 1)]
    return [images[start:end] for start, end in itertools.pairwise(bounds)]


def throughput_row(figure: str, ours: float, baseline: Baseline, target: float | None) -> Row:
    return ratio_row(
        figure, f"{ours:.1f}/s", f"{baseline.per_second:.1f}/s", ours / baseline.per_second, target
    )


def baseline_row(runs: Sequence[Baseline]) -> Row:
    """The baseline runs the e ratio uses together, in the order they ran."""
    return Row(
        figure="e. baseline runs between the rounds (step CPU ms per image)",
        value=", ".join(f"{run.per_second:.1f}" for run in runs) + "/s",
        baseline=", ".join(f"{run.cpu_ms_per_image:.0f}" for run in runs) + " ms",
    )


def cpu_rows(run: Released, baseline: Baseline) -> list[Row]:
    """Where the CPU went during the timed rounds, per image, by process, beside what
    the step alone took in the baseline."""
    spent = ms_per_item(run.cpu, run.images)
    parts = ", ".join(f"{name} {value:.0f}" for name, value in spent.items())
    total = sum(spent.values())
    return [
        Row(
            figure=f"e. CPU ms per image end to end: {parts}",
            value=f"{total:.0f} ms",
            baseline=f"{baseline.cpu_ms_per_image:.0f} ms",
            ratio=f"{baseline.cpu_ms_per_image / total:.2f}",
        )
    ]


class ProcessBench:
    def __init__(self, system: BenchSystem, options: Options, log: EventLog) -> None:
        self.system = system
        self.options = options
        self.log = log
        self.client = BenchClient(system.url, system.token)
        self.rows: list[Row] = []

    def upload(self, name: str, data: bytes) -> tuple[str, float]:
        """Intent (naming only the thumbnail step) + PUT; the file's id and the wall
        clock at the PUT's response."""
        intent = self.client.intent(name, len(data), pipeline=[THUMBNAIL_STEP])
        self.client.put(intent["upload_url"], data)
        return str(intent["file_id"]), time.time()

    def latency(self) -> None:
        base = Image.new("RGB", (16, 16), (40, 90, 160))
        pngs = unique_images(base, self.options.latency_uploads + 1, image_format="PNG")
        seconds: list[float] = []
        for index, data in enumerate(pngs):
            file_id, committed = self.upload(f"latency-{index}.png", data)
            self.log.wait(self.log.settled(file_id), timeout=60, what=f"{file_id}'s thumbnail")
            self.client.wait_settled(file_id)  # idle again before the next upload
            if index > 0:  # the first one warms the path up
                seconds.append(self.log.first_start[file_id] - committed)
        ordered = sorted(seconds)
        for name, quantile in (("p50", 0.50), ("p99", 0.99)):
            value = ordered[min(len(ordered) - 1, int(len(ordered) * quantile))]
            limit = TARGETS[name]
            self.rows.append(
                Row(
                    figure=f"f. commit -> job start {name}, {len(seconds)} tiny PNGs, idle",
                    value=f"{value * 1000:.1f} ms",
                    target=f"<= {limit * 1000:.0f} ms",
                    verdict="PASS" if value <= limit else "MISS",
                )
            )

    def rounds(
        self,
        images: list[bytes],
        processors: list[int],
        pool: multiprocessing.pool.Pool,
        options: StepOptions,
    ) -> tuple[list[Baseline], Released]:
        """e in ROUNDS rounds, the baseline run on the same images before the first
        round and after each: the baseline runs, and the rounds together."""
        parts = in_rounds(images, ROUNDS)
        baselines = [baseline_run(pool, parts[0], options)]
        runs: list[Released] = []
        for part in parts:
            runs.append(self.released(part, processors))
            baselines.append(baseline_run(pool, part, options))
        return baselines, Released.together(runs)

    def released(self, images: list[bytes], processors: list[int]) -> Released:
        """e: every image uploaded and committed while the processors are stopped, so
        their jobs wait in RabbitMQ; then the processors go on, and the figure is from
        that moment to the last thumbnail stored. Everything after the commit is in
        it (the jobs, storage serving them, the events and the webapp applying them),
        the uploads are not: the baseline does no upload either."""
        with stopped(processors):
            ids, _commits = self.upload_all(images, "queued")
            self.wait_stored(ids)
            cpu_before = self.cpu_reading(processors)
            released_at = time.time()
        seconds = self.wait_thumbnails(ids) - released_at
        cpu_after = self.cpu_reading(processors)
        self.verify(ids)
        return Released(len(ids), seconds, cpu_spent(cpu_before, cpu_after))

    def cpu_reading(self, processors: list[int]) -> dict[str, float]:
        """CPU seconds so far by service, the processors' decoders apart from them."""
        spent = cpu_by_service(self.system.cpu_processes)
        spent["decoders"] = 0.0
        for name, pid in self.system.services.items():
            if pid in processors:
                own = own_cpu_seconds(pid)
                spent["decoders"] += spent[name] - own
                spent[name] = own
        return spent

    def released_rows(self, run: Released, baseline: Baseline) -> None:
        self.rows.append(
            throughput_row(
                f"e. thumbnails/s, {run.images} committed JPEGs {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} "
                f"queued -> {THUMBNAIL_KIND} stored, {PROCESSORS} processors, {run.rounds} rounds",
                run.images / run.seconds,
                baseline,
                TARGETS["throughput"],
            )
        )
        self.rows.append(
            Row(figure="e. step results reused (should be 0)", value=str(self.log.reused))
        )
        self.rows.extend(cpu_rows(run, baseline))

    def alongside(self, images: list[bytes], baseline: Baseline) -> None:
        """e, for information: the same with the uploads running on the same cores, from
        the first commit to the last thumbnail."""
        ids, commits = self.upload_all(images, "photo")
        seconds = self.wait_thumbnails(ids) - min(commits)
        self.verify(ids)
        self.rows.append(
            throughput_row(
                f"e. the same with the {len(ids)} uploads alongside, first commit -> last "
                f"{THUMBNAIL_KIND}",
                len(ids) / seconds,
                baseline,
                None,
            )
        )

    def upload_all(self, images: list[bytes], prefix: str) -> tuple[list[str], list[float]]:
        """Every image uploaded from UPLOAD_THREADS threads: file ids and commit times."""
        ids: list[str] = []
        commits: list[float] = []
        lock = threading.Lock()

        def share(indexes: range) -> None:
            for index in indexes:
                file_id, committed = self.upload(f"{prefix}-{index}.jpg", images[index])
                with lock:
                    ids.append(file_id)
                    commits.append(committed)

        threads = [
            threading.Thread(target=share, args=(range(i, len(images), UPLOAD_THREADS),))
            for i in range(UPLOAD_THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(ids) != len(images):
            raise RuntimeError(f"only {len(ids)} of {len(images)} uploads committed")
        return ids, commits

    def wait_stored(self, ids: list[str]) -> None:
        """Until storage has published every file's commit and the webapp applied it."""
        wanted = set(ids)
        self.log.wait(lambda: wanted <= self.log.stored, timeout=120, what="file.stored events")
        for file_id in ids:
            deadline = time.monotonic() + 120
            while self.client.file(file_id)["state"] == "awaiting_upload":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the webapp never applied {file_id}'s commit")
                time.sleep(0.05)

    def wait_thumbnails(self, ids: list[str]) -> float:
        """Until every file's thumbnail is stored: when the last one was."""
        wanted = set(ids)
        self.log.wait(
            lambda: wanted <= set(self.log.thumbnail_done) or bool(wanted & set(self.log.failed)),
            timeout=WAIT_SECONDS,
            what=f"{len(ids)} thumbnails",
        )
        if wanted & set(self.log.failed):
            raise RuntimeError(f"jobs failed for {len(wanted & set(self.log.failed))} files")
        return max(self.log.thumbnail_done[file_id] for file_id in ids)

    def verify(self, ids: list[str]) -> None:
        """Every file's resource lists its thumbnail once its processing has ended."""
        for file_id in ids:
            resource = self.client.wait_settled(file_id)
            kinds = {derivative["kind"] for derivative in resource["derivatives"]}
            if THUMBNAIL_KIND not in kinds:
                raise RuntimeError(f"file {file_id} is {resource['state']} without a thumbnail")


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.process",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="40 JPEGs, 30 latency uploads")
    parser.add_argument("--images", type=int, help="JPEGs to thumbnail (default 200)")
    parser.add_argument("--latency-uploads", type=int, help="tiny PNGs to time (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args, _others = parser.parse_known_args(argv)  # `python -m bench` passes every option
    return Options(
        images=args.images or (40 if args.quick else 200),
        latency_uploads=args.latency_uploads or (30 if args.quick else 100),
        keep=args.keep,
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(arguments)
    if not rabbitmq_reachable():
        print("processing benchmark skipped: it needs RabbitMQ at " + RABBITMQ_URL, flush=True)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="usp-bench-process-"))
    print(f"processing benchmark in {workdir}; generating images…", flush=True)
    # One set for each e figure: a second set of the same images would be reused.
    images = unique_images(base_image(), 2 * options.images, image_format="JPEG")
    load_before = machine.load_average()
    with started(workdir / "data", max_upload=16 * MIB) as system:
        print(f"system: {system.mode}", flush=True)
        step = step_options(Settings.from_env(system.running.env))
        namespace = system.running.env["USP_BROKER_NAMESPACE"]
        log = EventLog()
        bench = ProcessBench(system, options, log)
        with listening(namespace, log, "latency", LATENCY_EVENTS):
            bench.latency()
        with (
            baseline_pool(images[0], step) as pool,
            listening(namespace, log, "throughput", THROUGHPUT_EVENTS),
            second_processor(system, workdir) as pid,
        ):
            system.services["processor-2"] = pid
            processors = [system.services["processor"], pid]
            baselines, run = bench.rounds(images[: options.images], processors, pool, step)
            baseline = Baseline.together(baselines)
            bench.rows.append(baseline_row(baselines))
            bench.released_rows(run, baseline)
            bench.alongside(images[options.images :], baseline)
        rows = sorted(bench.rows, key=lambda row: row.figure[:2])
    load = f"{load_before:.2f} before the system started, {machine.load_average():.2f} at the end"
    report(rows, system, workdir, arguments, load, image_bytes=sum(map(len, images)))
    if not options.keep:
        subprocess.run(["rm", "-rf", str(workdir)], check=False)  # noqa: S603, S607
    return 0


def report(
    rows: Sequence[Row],
    system: BenchSystem,
    workdir: Path,
    arguments: list[str],
    load: str,
    *,
    image_bytes: int,
) -> None:
    print()
    print(table(rows))
    print()
    for label, value in machine.describe(workdir):
        print(f"{label + ':':<12}{value}")
    print(f"{'load:':<12}1-minute average {load}")
    print(f"{'system:':<12}{system.mode} + a second python -m processor_service")
    print(f"{'processes:':<12}" + ", ".join(f"{n} pid {p}" for n, p in system.services.items()))
    print(f"{'images:':<12}{image_bytes / MIB:.1f} MiB of JPEG in all")
    print(f"{'command:':<12}" + shlex.join(["python", "-m", "bench.process", *arguments]))


if __name__ == "__main__":
    sys.exit(main())
