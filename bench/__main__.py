"""`python -m bench [--quick] [options]`: run every benchmark and print its figures."""

from __future__ import annotations

import sys

from bench import process, upload

BENCHMARKS = (upload, process)


def main(argv: list[str] | None = None) -> int:
    status = 0
    for benchmark in BENCHMARKS:
        status = max(status, benchmark.main(argv))
    return status


if __name__ == "__main__":
    sys.exit(main())
