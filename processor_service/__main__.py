"""`python -m processor_service`: run a processor worker until SIGTERM."""

from __future__ import annotations

from processor_service import worker
from processor_service.settings import Settings
from usp import logs


def main() -> None:
    logs.configure("processor_service")
    worker.run(Settings.from_env())


if __name__ == "__main__":
    main()
