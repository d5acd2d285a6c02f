"""Alembic migrations of the storage database (run with storage_service.db.migrate)."""
