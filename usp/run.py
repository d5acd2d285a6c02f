"""Run the whole system.

    python -m usp.run              # embedded default: one process, in-memory brokers
    python -m usp.run --processes  # one supervised process per service (needs RabbitMQ)

The embedded default still talks real gRPC and HTTP over loopback between the services;
only the brokers are in memory, which is why it must be a single process.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

from usp import config, logs
from usp.supervise import Child, supervise

logger = logging.getLogger("usp.run")

DJANGO_SETTINGS = "webapp.config.settings.local"


def service_processes() -> list[Child]:
    python = sys.executable
    return [
        Child("storage", [python, "-m", "storage_service"]),
        Child("processor", [python, "-m", "processor_service"]),
        Child("webapp", [python, "-m", "django", "serve"]),
        Child("events", [python, "-m", "django", "consume_events"]),
    ]


def run_processes() -> int:
    if not config.broker_url():
        raise SystemExit(
            "--processes needs USP_BROKER_URL (amqp://…): in-memory brokers only work "
            "inside one process; run without --processes for the embedded default"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DJANGO_SETTINGS)
    return supervise(service_processes())


def run_embedded() -> int:
    """Start storage, processor and webapp in this process; stop them on SIGTERM/SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stoppers: list[Callable[[], None]] = []
    try:
        start_services(stoppers)
        stop.wait()
    finally:
        for stopper in reversed(stoppers):
            stopper()
    return 0


def start_services(stoppers: list[Callable[[], None]]) -> None:
    """Start every service, recording how to stop each, in dependency order."""
    from processor_service import worker
    from processor_service.settings import Settings as ProcessorSettings
    from storage_service.server import create_server
    from storage_service.settings import Settings as StorageSettings
    from usp.jobs import make_broker

    broker = make_broker("")  # one in-memory broker shared by storage and processor
    processor = worker.start(ProcessorSettings.from_env(), broker=broker)
    stoppers.append(lambda: processor.stop())
    storage = create_server(StorageSettings.from_env(), broker=broker)
    storage.start()
    stoppers.append(lambda: storage.stop())
    start_webapp(stoppers)


def start_webapp(stoppers: list[Callable[[], None]]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DJANGO_SETTINGS)
    import django

    django.setup()
    from django.conf import settings

    from usp.message_auth import message_key
    from webapp.apigrpc.serving import start_api, start_web
    from webapp.files.consumer import run_consumer

    env = settings.USP
    consumer_stop = threading.Event()
    consumer = threading.Thread(
        target=run_consumer,
        kwargs={
            "broker_url": "",
            "namespace": env.broker_namespace,
            "message_key": message_key(env.service_token),
            "stop": consumer_stop,
        },
        name="usp-events",
        daemon=True,
    )
    consumer.start()

    def stop_consumer() -> None:
        consumer_stop.set()
        consumer.join(10)

    stoppers.append(stop_consumer)
    api = start_api(env.api_grpc_port, host=env.api_grpc_host)
    stoppers.append(lambda: api.stop())
    web = start_web(env.web_port, host=env.web_host)
    stoppers.append(lambda: web.stop())
    announce(web.url, api.target)


def announce(url: str, api_target: str) -> None:
    print(
        f"\nupload-store-process is running on the embedded default.\n"
        f"  web:        {url}/  (sign up, then upload at {url}/upload/)\n"
        f"  REST API:   {url}/api/v1/   docs: {url}/api/docs/\n"
        f"  gRPC API:   {api_target}\n"
        f"  admin user: .venv/bin/python manage.py createsuperuser\n"
        f"  API token:  .venv/bin/python manage.py create_api_token USERNAME\n"
        f"Stop with Ctrl-C.\n",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m usp.run", description=__doc__)
    parser.add_argument(
        "--processes", action="store_true", help="one supervised process per service"
    )
    options = parser.parse_args(argv)
    logs.configure("usp")
    return run_processes() if options.processes else run_embedded()


if __name__ == "__main__":
    sys.exit(main())
