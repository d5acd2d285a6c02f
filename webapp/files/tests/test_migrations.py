from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0001_initial"), ("files", "0001_initial")]
AFTER = [("accounts", "0002_usage"), ("files", "0002_upload_intents_and_usage")]


@pytest.fixture
def latest_schema_after() -> Iterator[None]:
    """Whatever a test migrates to, the database ends at the latest migrations."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_files_stored_before_quotas_are_counted_by_the_migration(latest_schema_after: None) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    user_model = apps.get_model("accounts", "User")
    file_model = apps.get_model("files", "File")
    alice = user_model.objects.create(username="alice", email="a@example.com")
    bob = user_model.objects.create(username="bob", email="b@example.com")
    file_model.objects.create(owner=alice, name="a", size=10, state="ready")
    file_model.objects.create(owner=alice, name="b", size=5, state="processing")
    file_model.objects.create(owner=alice, name="c", size=None, state="awaiting_upload")
    file_model.objects.create(owner=bob, name="d", size=7, state="stored")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    usage_model = apps.get_model("accounts", "Usage")
    file_model = apps.get_model("files", "File")

    usage = {row.user_id: (row.bytes_used, row.files_used) for row in usage_model.objects.all()}
    assert usage == {alice.pk: (15, 3), bob.pk: (7, 1)}
    assert sorted(file_model.objects.values_list("name", "charged_bytes")) == [
        ("a", 10),
        ("b", 5),
        ("c", 0),
        ("d", 7),
    ]
