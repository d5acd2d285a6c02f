"""The shared library of upload-store-process: generated contracts (usp.v1), settings
parsing, logging, service authentication, the storage client, broker and event plumbing.
No service module is imported from here."""
