"""Benchmarks of the running system: `make bench` (`python -m bench`). Never run by the
tests; each benchmark starts the system itself in a temporary directory."""
