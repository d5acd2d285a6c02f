"""The storage service: blob bytes, integrity, and the dispatch of processing jobs."""
