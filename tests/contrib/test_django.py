"""Tests for roadie.contrib.django: settings, jobs held until commit, connections around jobs, the dashboard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

import roadie
import roadie.testing
from roadie.client import default_client
from roadie.contrib.django import push_immediately
from roadie.errors import ConfigError

pytestmark = pytest.mark.usefixtures("django_app")

ran: list[Any] = []


@roadie.job(name="DjangoTest.Record")
def record(value: Any) -> None:
    ran.append(value)


@roadie.job(name="DjangoTest.AsyncRecord")
async def async_record(value: Any) -> None:
    await asyncio.sleep(0)
    ran.append(value)


@pytest.fixture(autouse=True)
def empty_ran() -> None:
    ran.clear()


@pytest.fixture
def notes_table() -> Iterator[Any]:
    """A table to write in transactions, so the tests commit and roll back real rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS roadie_notes (id INTEGER PRIMARY KEY, body TEXT)")
        cursor.execute("DELETE FROM roadie_notes")
    yield connection


def insert_note(connection: Any, body: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO roadie_notes (body) VALUES (%s)", [body])


def queued_jids(redis_client: redis.Redis, queue: str = "default") -> list[str]:
    return [json.loads(raw)["jid"] for raw in reversed(redis_client.lrange(f"queue:{queue}", 0, -1))]


# ------------------------------------------------------------------ settings


def test_roadie_setting_becomes_default(redis_url: str) -> None:
    assert default_client().url == redis_url


def test_django_keys_stripped(redis_url: str) -> None:
    from django.test import override_settings

    with override_settings(ROADIE={"redis_url": redis_url, "concurrency": 4, "defer_until_commit": False,
                                   "dashboard_read_only": True, "autodiscover": ["jobs"]}):
        settings = default_client().settings

    assert settings.concurrency == 4


def test_unknown_key_rejected(redis_url: str) -> None:
    from django.test import override_settings

    with pytest.raises(ConfigError, match="concurency"), override_settings(ROADIE={"concurency": 4}):
        pass


def test_invalid_defer_value_rejected(redis_url: str) -> None:
    from django.test import override_settings

    with pytest.raises(ConfigError, match="defer_until_commit"), \
            override_settings(ROADIE={"redis_url": redis_url, "defer_until_commit": "yes"}):
        pass


def test_settings_restored_after_override(redis_url: str) -> None:
    from django.test import override_settings

    with override_settings(ROADIE={"redis_url": "redis://127.0.0.1:1/0"}):
        pass

    assert default_client().url == redis_url


# --------------------------------------------------------------- transactions


def test_rolled_back_job_never_pushed(notes_table: Any, redis_client: redis.Redis) -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError, match="abandon"), transaction.atomic():
        insert_note(notes_table, "draft")
        record.perform_async("lost")
        assert redis_client.llen("queue:default") == 0
        raise RuntimeError("abandon the transaction")

    assert redis_client.llen("queue:default") == 0
    assert redis_client.exists("queues") == 0


def test_committed_job_pushed_after_commit(notes_table: Any, redis_client: redis.Redis) -> None:
    from django.db import transaction

    with transaction.atomic():
        insert_note(notes_table, "saved")
        jid = record.perform_async("kept")
        assert redis_client.llen("queue:default") == 0

    assert queued_jids(redis_client) == [jid]


def test_job_outside_transaction_pushed_now(redis_client: redis.Redis) -> None:
    jid = record.perform_async("now")

    assert queued_jids(redis_client) == [jid]


def test_savepoint_rollback_drops_its_job(notes_table: Any, redis_client: redis.Redis) -> None:
    from django.db import transaction

    with transaction.atomic():
        outer_jid = record.perform_async("outer")
        with pytest.raises(RuntimeError), transaction.atomic():
            record.perform_async("inner")
            raise RuntimeError("roll back the savepoint")

    assert queued_jids(redis_client) == [outer_jid]


def test_bulk_deferred_until_commit(notes_table: Any, redis_client: redis.Redis) -> None:
    from django.db import transaction

    with transaction.atomic():
        jids = record.perform_bulk([[1], [2]])
        assert redis_client.llen("queue:default") == 0

    assert queued_jids(redis_client) == jids


def test_scheduled_job_deferred(notes_table: Any, redis_client: redis.Redis) -> None:
    from django.db import transaction

    with transaction.atomic():
        record.perform_in(3600, "later")
        assert redis_client.zcard("schedule") == 0

    assert redis_client.zcard("schedule") == 1


def test_push_immediately_inside_transaction(notes_table: Any, redis_client: redis.Redis) -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        with push_immediately():
            jid = record.perform_async("alert")
        assert queued_jids(redis_client) == [jid]
        raise RuntimeError("roll back")

    assert queued_jids(redis_client) == [jid]


def test_push_immediately_as_decorator(notes_table: Any, redis_client: redis.Redis) -> None:
    from django.db import transaction

    @push_immediately()
    def alert() -> str | None:
        return record.perform_async("decorated")

    with transaction.atomic():
        jid = alert()
        assert queued_jids(redis_client) == [jid]


def test_global_opt_out_pushes_now(redis_url: str, notes_table: Any, redis_client: redis.Redis) -> None:
    from django.db import transaction
    from django.test import override_settings

    with override_settings(ROADIE={"redis_url": redis_url, "defer_until_commit": False}), transaction.atomic():
        jid = record.perform_async("eager")
        assert queued_jids(redis_client) == [jid]


def test_fake_mode_captures_at_commit(notes_table: Any) -> None:
    from django.db import transaction

    with roadie.testing.fake():
        with transaction.atomic():
            record.perform_async("captured")
            assert record.jobs == []

        assert [job["args"] for job in record.jobs] == [["captured"]]


def test_inline_mode_skips_rolled_back(notes_table: Any) -> None:
    from django.db import transaction

    with roadie.testing.inline(), pytest.raises(RuntimeError), transaction.atomic():
        record.perform_async("never")
        raise RuntimeError("roll back")

    assert ran == []


def test_inline_mode_runs_after_commit(notes_table: Any) -> None:
    from django.db import transaction

    with roadie.testing.inline():
        with transaction.atomic():
            record.perform_async("after commit")
            assert ran == []

    assert ran == ["after commit"]


# ---------------------------------------------------------------- connections


def call_middleware(job_function: Any, body: Callable[[], Any]) -> Any:
    from roadie.contrib.django.middleware import close_old_connections

    return close_old_connections(job_function, {"jid": "x"}, "default", body)


def test_connection_closed_after_job(notes_table: Any) -> None:
    from django.db import connection

    def job_body() -> bool:
        insert_note(connection, "from job")
        return connection.connection is not None

    was_open = call_middleware(record, job_body)

    assert was_open is True
    assert connection.connection is None


def test_connection_kept_inside_atomic(notes_table: Any) -> None:
    from django.db import connection, transaction

    with transaction.atomic():
        insert_note(connection, "test transaction")
        call_middleware(record, lambda: insert_note(connection, "from job"))

        assert connection.connection is not None
        assert connection.needs_rollback is False


def test_async_job_connections_untouched(notes_table: Any) -> None:
    from django.db import connection

    insert_note(connection, "open it")
    call_middleware(async_record, lambda: None)

    assert connection.connection is not None


def test_worker_runs_orm_job(notes_table: Any, burst_worker: Callable[..., None]) -> None:
    from django.db import connection

    @roadie.job(name="DjangoTest.CountNotes")
    def count_notes() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM roadie_notes")
            ran.append(cursor.fetchone()[0])

    insert_note(connection, "one")
    count_notes.perform_async()
    count_notes.perform_async()

    burst_worker(default_client().settings)

    assert ran == [1, 1]


# ------------------------------------------------------------------ dashboard


@pytest.fixture
def users(django_app: Any) -> dict[str, Any]:
    from django.contrib.auth.models import User

    User.objects.all().delete()
    return {
        "staff": User.objects.create_user("staff", password="pw", is_staff=True),
        "member": User.objects.create_user("member", password="pw"),
    }


def test_dashboard_anonymous_redirected(users: dict[str, Any]) -> None:
    from django.test import Client

    response = Client().get("/roadie/queues")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/roadie/queues")


def test_dashboard_non_staff_forbidden(users: dict[str, Any]) -> None:
    from django.test import Client

    client = Client()
    client.force_login(users["member"])

    assert client.get("/roadie/queues").status_code == 403


def test_dashboard_staff_sees_page(users: dict[str, Any]) -> None:
    from django.test import Client

    client = Client()
    client.force_login(users["staff"])

    response = client.get("/roadie/queues")

    assert response.status_code == 200
    assert "/roadie/queues" in response.content.decode()


def test_dashboard_custom_permission(users: dict[str, Any], redis_url: str) -> None:
    from django.test import Client, override_settings

    with override_settings(ROADIE={"redis_url": redis_url, "dashboard_permission": lambda request: True}):
        response = Client().get("/roadie/")

    assert response.status_code == 200


def test_dashboard_read_only_setting(users: dict[str, Any], redis_url: str) -> None:
    from django.test import Client, override_settings

    client = Client()
    client.force_login(users["staff"])
    with override_settings(ROADIE={"redis_url": redis_url, "dashboard_read_only": True}):
        response = client.post("/roadie/queues/default", {"action": "clear"}, HTTP_SEC_FETCH_SITE="same-origin")

    assert response.status_code == 403


def test_dashboard_form_post_with_cookie(users: dict[str, Any], redis_client: redis.Redis) -> None:
    from django.test import Client

    record.perform_async("to clear")
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["staff"])
    page = client.get("/roadie/queues")
    token = page.cookies["roadie_csrf"].value

    response = client.post("/roadie/queues/default", {"action": "clear", "csrf_token": token})

    assert response.status_code in (302, 303)
    assert redis_client.llen("queue:default") == 0


def test_dashboard_post_without_token_rejected(users: dict[str, Any], redis_client: redis.Redis) -> None:
    from django.test import Client

    record.perform_async("kept")
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["staff"])

    response = client.post("/roadie/queues/default", {"action": "clear"})

    assert response.status_code == 403
    assert redis_client.llen("queue:default") == 1
