"""`python -m storage_service`: run the storage service in this process."""

from __future__ import annotations

from storage_service.server import serve
from storage_service.settings import Settings
from usp import logs


def main() -> None:
    logs.configure("storage_service")
    serve(Settings.from_env())


if __name__ == "__main__":
    main()
