"""The storage database: stored objects, the references naming them, the outbox, the
resumable upload sessions, and the remembered results of processing steps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from storage_service.settings import normalize_database_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
ORIGINAL = "original"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class StoredObject(Base):
    """A blob in content-addressed storage, named by its SHA-256."""

    __tablename__ = "stored_objects"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    content_type: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class ObjectRef(Base):
    """A file's use of an object: its original, or one derivative kind."""

    __tablename__ = "object_refs"
    __table_args__ = (sa.UniqueConstraint("file_id", "kind", name="uq_object_refs_file_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(64))
    sha256: Mapped[str] = mapped_column(
        sa.String(64), sa.ForeignKey("stored_objects.sha256"), index=True
    )
    job_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class OutboxMessage(Base):
    """A job message or an event committed with an upload, waiting for the relay."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), nullable=True, index=True
    )
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class StepResult(Base):
    """What a step produced from some content: the key names the work (input SHA-256,
    step, version, options digest), the row its metadata and derivatives
    ([{kind, sha256, size, content_type}]). A result lives as long as its input object:
    removing that blob removes its results.
    """

    __tablename__ = "step_results"
    __table_args__ = (
        sa.UniqueConstraint(
            "input_sha256", "step", "version", "options_digest", name="uq_step_results_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    input_sha256: Mapped[str] = mapped_column(sa.String(64))
    step: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[int] = mapped_column(sa.Integer)
    options_digest: Mapped[str] = mapped_column(sa.String(64))
    # "metadata" is taken on declarative classes; the column keeps the plain name.
    result_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", sa.JSON)
    derivatives: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class UploadState:
    """The states of an upload session; only an open session accepts bytes."""

    OPEN = "open"
    COMPLETED = "completed"
    ABORTED = "aborted"
    EXPIRED = "expired"
    REJECTED = "rejected"


class UploadSession(Base):
    """A resumable upload of a file's original: what was declared, and how far it got.

    At most one session per file is open (a partial unique index); its bytes so far wait
    in `<blob_dir>/partial/<id>`.
    """

    __tablename__ = "upload_sessions"
    __table_args__ = (
        sa.Index(
            "uq_upload_sessions_open_file",
            "file_id",
            unique=True,
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        ),
        sa.Index("ix_upload_sessions_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    file_id: Mapped[str] = mapped_column(sa.String(255))
    owner_id: Mapped[str] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.Text, default="")
    size: Mapped[int] = mapped_column(sa.BigInteger)
    declared_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    pipeline: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    allowed_types: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # "offset" is an SQL keyword; the column gets a plain name.
    offset: Mapped[int] = mapped_column("received", sa.BigInteger, default=0)
    state: Mapped[str] = mapped_column(sa.String(16), default=UploadState.OPEN)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


def insert_on_conflict(
    table: sa.Table, *, columns: Sequence[str], conflict: Sequence[str], update: Sequence[str] = ()
) -> sa.TextClause:
    """`INSERT INTO table (columns) VALUES (:column, ...) ON CONFLICT (conflict)`, then
    DO NOTHING, or DO UPDATE SET each of `update` to the value that was to be inserted.

    SQLAlchemy 2.0 compiles its dialect-specific INSERT ... ON CONFLICT constructs
    anew at every execution (they are not cacheable); this text, in the syntax SQLite
    and PostgreSQL share, is built once and its compiled form cached like any other
    statement's. Its parameters carry their columns' types, so values are bound as
    the ORM binds them (JSON serialised, datetimes as SQLite stores them).
    """
    inserted = [table.c[name] for name in columns]  # a name not of the table: KeyError
    names = ", ".join(column.name for column in inserted)
    values = ", ".join(f":{column.name}" for column in inserted)
    action = "DO NOTHING"
    if update:
        assignments = (f"{table.c[name].name} = excluded.{name}" for name in update)
        action = "DO UPDATE SET " + ", ".join(assignments)
    keys = ", ".join(table.c[name].name for name in conflict)
    # Identifiers only from the table's own metadata; every value is a bound parameter.
    text = sa.text(
        f"INSERT INTO {table.name} ({names}) VALUES ({values}) ON CONFLICT ({keys}) {action}"  # noqa: S608
    )
    return text.bindparams(*(sa.bindparam(column.name, type_=column.type) for column in inserted))


def as_utc(moment: datetime) -> datetime:
    """A stored moment in UTC: SQLite hands back naive datetimes (stored as UTC), and
    PostgreSQL aware ones in the connection's time zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def create_engine(database_url: str) -> Engine:
    """An engine that several threads can share, SQLite included."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False})
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # WAL lets readers run beside the writer; BEGIN IMMEDIATE takes the write lock up
    # front so concurrent writers wait (busy_timeout) instead of failing mid-transaction.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def migrate(database_url: str) -> None:
    """Bring the database schema to the latest revision (alembic upgrade head)."""
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.connect() as connection:
            alembic_config = Config()
            alembic_config.set_main_option("script_location", str(MIGRATIONS_DIR))
            alembic_config.attributes["connection"] = connection
            command.upgrade(alembic_config, "head")
    finally:
        engine.dispose()
