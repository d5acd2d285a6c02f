"""`python -m processor_service`: run a processor worker until SIGTERM."""

from __future__ import annotations

import os

from processor_service import sandbox, worker
from processor_service.settings import Settings
from usp import logs


def main() -> None:
    sandbox.prefer_huge_pages(os.environ)  # before any thread, for the decoders
    logs.configure("processor_service")
    worker.run(Settings.from_env())


if __name__ == "__main__":
    main()
