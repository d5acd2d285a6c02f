"""The catalog's locked reads: each call reads the rows its own ids name, with every
field, and locks them where the database locks rows."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from webapp.accounts.models import User
from webapp.core.errors import NotFound
from webapp.core.tests.on_postgresql import check_vendor, run_on_postgresql
from webapp.files.catalog import file_jobs_with, file_locked
from webapp.files.models import JobState
from webapp.files.tests.factories import file_make, job_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner() -> User:
    return User.objects.create_user("owner", "owner@example.com", "pw")


def test_each_locked_file_read_returns_the_file_its_id_names_with_every_field(
    owner: User,
) -> None:
    first = file_make(owner=owner, name="a.png", metadata={"image": {"width": 3}})
    second = file_make(owner=owner, name="b.png")

    with transaction.atomic():
        read_first, read_second = file_locked(first.pk), file_locked(str(second.pk))

    assert (read_first.pk, read_first.name, read_first.metadata) == (
        first.pk,
        "a.png",
        {"image": {"width": 3}},
    )
    assert (read_first.owner_id, read_first.created_at, read_first.size) == (
        first.owner_id,
        first.created_at,
        first.size,
    )
    assert (read_second.pk, read_second.name, read_second._state.adding) == (
        second.pk,
        "b.png",
        False,
    )


def test_a_locked_read_of_a_missing_file_is_not_found(owner: User) -> None:
    file_make(owner=owner)

    with transaction.atomic(), pytest.raises(NotFound):
        file_locked(uuid.uuid4())


def test_each_jobs_read_returns_the_files_jobs_and_the_named_ones_of_that_call(
    owner: User,
) -> None:
    file, other = file_make(owner=owner, name="a.png"), file_make(owner=owner, name="b.png")
    mine = job_make(file=file, step="image.thumbnail", state=JobState.RUNNING, attempts=2)
    elsewhere = job_make(file=other, step="image.metadata")
    foreign = job_make(file=other, step="image.text")

    with transaction.atomic():
        reads = [
            file_jobs_with(file, [elsewhere.pk], lock=True),
            file_jobs_with(file, [foreign.pk], lock=True),
            file_jobs_with(file, [foreign.pk, foreign.pk, uuid.uuid4()], lock=True),
            file_jobs_with(other, []),
        ]

    assert [sorted(jobs) for jobs in reads] == [
        sorted([mine.pk, elsewhere.pk]),
        sorted([mine.pk, foreign.pk]),
        sorted([mine.pk, foreign.pk]),
        sorted([elsewhere.pk, foreign.pk]),
    ]
    read = reads[0][mine.pk]
    assert (read.file_id, read.step, read.state, read.attempts) == (
        file.pk,
        "image.thumbnail",
        JobState.RUNNING,
        2,
    )


@pytest.mark.django_db(transaction=True)
def test_locked_reads_lock_their_rows_where_the_database_locks_rows(owner: User) -> None:
    check_vendor()
    file = file_make(owner=owner)
    job_make(file=file, step="image.thumbnail")

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        file_locked(file.pk)
        file_jobs_with(file, [], lock=True)

    # SQLite locks the whole database (BEGIN IMMEDIATE); PostgreSQL the rows read.
    locks_rows = connection.vendor == "postgresql"
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert [sql.endswith("FOR UPDATE") for sql in selects] == [locks_rows, locks_rows]
    if locks_rows:
        with pytest.raises(TransactionManagementError):
            file_locked(file.pk)


@pytest.mark.postgres
def test_locked_reads_lock_their_rows_on_postgresql(postgres_database: str) -> None:
    run_on_postgresql(
        __file__,
        "test_locked_reads_lock_their_rows_where_the_database_locks_rows",
        postgres_database,
    )
