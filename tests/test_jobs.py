"""Tests for the @job decorator, the enqueue verbs and the job registry, against real Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis

import roadie
from roadie import jobs as jobs_module
from roadie.client import AsyncClient, Client, _reset_defaults
from roadie.config import Settings
from roadie.errors import JobArgumentError, JobDefinitionError
from roadie.jobs import JobFunction, JobHandle, get_job, job, registered_jobs
from roadie.middleware import Chain


@job
def send_welcome(user_id: int, greeting: str = "hello") -> str:
    return f"{greeting} {user_id}"


@job(queue="billing", retry=5, tags=["money"])
def charge(account_id: int, amount: float, *, currency: str = "EUR") -> tuple[int, float, str]:
    return account_id, amount, currency


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each test its own registry, so jobs defined in one test never clash with another's."""
    monkeypatch.setattr(jobs_module, "_registry", {})


@pytest.fixture
def client(redis_url: str) -> Iterator[Client]:
    instance = Client(redis_url, settings=Settings(), middleware=Chain())
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def default_client(redis_url: str) -> Iterator[None]:
    """Make the process-wide client point at the test server, and forget it afterwards."""
    roadie.configure(url=redis_url, settings=Settings())
    try:
        yield
    finally:
        _reset_defaults()


def queued(redis_client: redis.Redis, queue: str = "default") -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in reversed(redis_client.lrange(f"queue:{queue}", 0, -1))]


def scheduled(redis_client: redis.Redis) -> list[tuple[dict[str, Any], float]]:
    return [(orjson.loads(member), score) for member, score in redis_client.zrange("schedule", 0, -1, withscores=True)]


# ----------------------------------------------------------------- decorator


def test_bare_decorator_makes_job() -> None:
    assert isinstance(send_welcome, JobFunction)
    assert send_welcome.options == {}
    assert send_welcome.queue == "default"
    assert send_welcome.is_async is False


def test_default_name_module_qualname() -> None:
    assert send_welcome.name == f"{__name__}.send_welcome"
    assert __name__ != "__main__"


def test_default_name_nested_qualname() -> None:
    class Billing:
        @staticmethod
        def refund(order_id: int) -> None: ...

    refund = job(Billing.refund)

    assert refund.name == f"{__name__}.test_default_name_nested_qualname.<locals>.Billing.refund"


def test_configured_decorator_options() -> None:
    assert charge.options == {"queue": "billing", "retry": 5, "tags": ["money"]}
    assert charge.queue == "billing"


def test_name_override() -> None:
    @job(name="Mailer::Welcome")
    def welcome(user_id: int) -> None: ...

    assert welcome.name == "Mailer::Welcome"
    assert get_job("Mailer::Welcome") is welcome


def test_call_runs_in_process() -> None:
    assert send_welcome(7) == "hello 7"
    assert charge(1, 2.5, currency="USD") == (1, 2.5, "USD")


def test_wrapper_keeps_metadata() -> None:
    assert send_welcome.__name__ == "send_welcome"
    assert send_welcome.__wrapped__(3, "hi") == "hi 3"


def test_async_function_detected() -> None:
    @job(name="async.job")
    async def fetch(url: str) -> None: ...

    assert fetch.is_async is True


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"queue": "bad queue"}, "'queue'"),
        ({"retry": -2}, "'retry'"),
        ({"tags": "money"}, "'tags'"),
        ({"retry_for": 0}, "'retry_for'"),
        ({"dead": "no"}, "'dead'"),
        ({"priority": 3}, "unknown job option 'priority'"),
    ],
)
def test_invalid_option_at_decoration(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(JobDefinitionError) as info:

        @job(name="broken.job", **options)
        def broken() -> None: ...

    message = str(info.value)
    assert "'broken.job'" in message
    assert fragment in message
    assert get_job("broken.job") is None


def test_empty_name_rejected() -> None:
    with pytest.raises(JobDefinitionError, match="non-empty string"):
        job(name=123)(lambda: None)  # type: ignore[call-overload]


def test_duplicate_name_different_functions() -> None:
    @job(name="shared.name")
    def first() -> None: ...

    with pytest.raises(JobDefinitionError) as info:

        @job(name="shared.name")
        def second() -> None: ...

    message = str(info.value)
    assert "'shared.name'" in message
    assert "first" in message
    assert get_job("shared.name") is first


def test_same_definition_registers_again() -> None:
    # A module imported twice defines the same function again; the newer one wins.
    made = []
    for _ in range(2):

        @job(name="reloaded.job")
        def reloaded() -> None: ...

        made.append(reloaded)

    assert get_job("reloaded.job") is made[1]


def test_registry_lookup() -> None:
    @job(name="lookup.job")
    def lookup() -> None: ...

    assert get_job("lookup.job") is lookup
    assert get_job("missing.job") is None
    assert registered_jobs() == {"lookup.job": lookup}


def test_registered_jobs_is_copy() -> None:
    registered_jobs()["intruder"] = send_welcome

    assert get_job("intruder") is None


# ------------------------------------------------------------ perform_async


def test_perform_async_wire_format(client: Client, redis_client: redis.Redis) -> None:
    jid = charge.set(client=client).perform_async(3, 9.5, currency="USD")

    [item] = queued(redis_client, "billing")
    assert item["jid"] == jid
    assert item["class"] == f"{__name__}.charge"
    assert item["args"] == [3, 9.5]
    assert item["kwargs"] == {"currency": "USD"}
    assert item["queue"] == "billing"
    assert item["retry"] == 5
    assert item["tags"] == ["money"]


def test_perform_async_no_kwargs_key(client: Client, redis_client: redis.Redis) -> None:
    send_welcome.set(client=client).perform_async(1, "hi")

    [item] = queued(redis_client)
    assert item["args"] == [1, "hi"]
    assert "kwargs" not in item


def test_perform_async_default_client(default_client: None, redis_client: redis.Redis) -> None:
    jid = send_welcome.perform_async(5)

    [item] = queued(redis_client)
    assert item["jid"] == jid


@pytest.mark.parametrize(
    ("args", "kwargs", "fragment"),
    [
        ((), {}, "'user_id'"),
        ((1, "hi", "extra"), {}, "too many positional arguments"),
        ((1,), {"colour": "red"}, "'colour'"),
    ],
)
def test_wrong_arguments_rejected(
    client: Client, redis_client: redis.Redis, args: tuple[Any, ...], kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(JobArgumentError) as info:
        send_welcome.set(client=client).perform_async(*args, **kwargs)

    message = str(info.value)
    assert f"job '{__name__}.send_welcome'" in message
    assert fragment in message
    assert redis_client.dbsize() == 0


def _required(a, b): ...
def _defaults(a, b=1, c=2): ...
def _star_args(a, *rest): ...
def _keyword_default(a, *, flag=False): ...
def _keyword_required(a, *, flag): ...
def _var_keywords(a, **options): ...
def _positional_only(a, /, b=1): ...


@pytest.mark.parametrize("function", [_required, _defaults, _star_args, _keyword_default, _keyword_required,
                                      _var_keywords, _positional_only])
@pytest.mark.parametrize("count", range(5))
def test_binding_check_matches_bind(function: Any, count: int) -> None:
    import inspect

    job_function = JobFunction(function, name=f"binding.{function.__name__}")
    args = tuple(range(count))
    try:
        inspect.signature(function).bind(*args)
    except TypeError:
        binds = False
    else:
        binds = True

    if binds:
        job_function.check_binding(args, {})
    else:
        with pytest.raises(JobArgumentError):
            job_function.check_binding(args, {})


def test_non_json_argument_path(client: Client, redis_client: redis.Redis) -> None:
    @job(name="report.job")
    def report(account_id: int, filters: dict[str, Any]) -> None: ...

    with pytest.raises(JobArgumentError) as info:
        report.set(client=client).perform_async(1, {"when": dt.datetime(2024, 5, 1)})

    assert str(info.value).startswith(
        "args[1]['when']: datetime is not JSON-serializable; pass an ISO 8601 string"
    )
    assert redis_client.dbsize() == 0


def test_non_json_kwarg_path(client: Client) -> None:
    with pytest.raises(JobArgumentError) as info:
        charge.set(client=client).perform_async(1, 2.0, currency={"code"})

    assert str(info.value).startswith("kwargs['currency']: set is not JSON-serializable")


# --------------------------------------------------- perform_in, perform_at


def test_perform_in_seconds(client: Client, redis_client: redis.Redis) -> None:
    before = time.time()

    jid = send_welcome.set(client=client).perform_in(90, 1)

    after = time.time()
    [(item, score)] = scheduled(redis_client)
    assert item["jid"] == jid
    assert before + 90 <= score <= after + 90
    assert redis_client.llen("queue:default") == 0


def test_perform_in_timedelta(client: Client, redis_client: redis.Redis) -> None:
    before = time.time()

    send_welcome.set(client=client).perform_in(dt.timedelta(minutes=2), 1)

    after = time.time()
    [(_, score)] = scheduled(redis_client)
    assert before + 120 <= score <= after + 120


def test_perform_in_absolute_epoch(client: Client, redis_client: redis.Redis) -> None:
    # A "delay" of 1e9 or more is an epoch time, as in Sidekiq's perform_in.
    at = time.time() + 3600

    send_welcome.set(client=client).perform_in(at, 1)

    [(_, score)] = scheduled(redis_client)
    assert score == at


def test_perform_in_threshold_exact(client: Client, redis_client: redis.Redis) -> None:
    # 1e9 itself (in 2001) is absolute, so it lies in the past and runs now.
    send_welcome.set(client=client).perform_in(1_000_000_000, 1)

    assert redis_client.zcard("schedule") == 0
    assert redis_client.llen("queue:default") == 1


def test_perform_in_negative_runs_now(client: Client, redis_client: redis.Redis) -> None:
    send_welcome.set(client=client).perform_in(-5, 1)

    assert redis_client.zcard("schedule") == 0
    assert redis_client.llen("queue:default") == 1


def test_perform_in_invalid_delay(client: Client) -> None:
    with pytest.raises(JobArgumentError, match="seconds or a timedelta"):
        send_welcome.set(client=client).perform_in("soon", 1)  # type: ignore[arg-type]


def test_perform_at_datetime(client: Client, redis_client: redis.Redis) -> None:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)

    send_welcome.set(client=client).perform_at(when, 1)

    [(item, score)] = scheduled(redis_client)
    assert score == when.timestamp()
    assert "at" not in item


def test_perform_at_epoch(client: Client, redis_client: redis.Redis) -> None:
    when = time.time() + 7200

    send_welcome.set(client=client).perform_at(when, 1)

    [(_, score)] = scheduled(redis_client)
    assert score == when


def test_perform_at_invalid_time(client: Client) -> None:
    with pytest.raises(JobArgumentError, match="datetime or epoch seconds"):
        send_welcome.set(client=client).perform_at("2030-01-01", 1)  # type: ignore[arg-type]


# -------------------------------------------------------------- perform_bulk


def test_perform_bulk_enqueues_all(client: Client, redis_client: redis.Redis) -> None:
    jids = send_welcome.set(client=client).perform_bulk([[1], [2, "hi"], (3,)])

    items = queued(redis_client)
    assert len(jids) == 3
    assert [item["jid"] for item in items] == jids
    assert [item["args"] for item in items] == [[1], [2, "hi"], [3]]


def test_perform_bulk_one_time(client: Client, redis_client: redis.Redis) -> None:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)

    jids = send_welcome.set(client=client).perform_bulk([[1], [2]], at=when)

    entries = scheduled(redis_client)
    assert sorted(item["jid"] for item, _ in entries) == sorted(jids)
    assert [score for _, score in entries] == [when.timestamp()] * 2


def test_perform_bulk_time_per_job(client: Client, redis_client: redis.Redis) -> None:
    base = time.time() + 600
    times = [base + 2, dt.datetime.fromtimestamp(base + 1, dt.timezone.utc), base + 3]

    jids = send_welcome.set(client=client).perform_bulk([[1], [2], [3]], at=times)

    by_jid = {item["jid"]: (item["args"], score) for item, score in scheduled(redis_client)}
    assert by_jid[jids[0]] == ([1], base + 2)
    assert by_jid[jids[1]][0] == [2]
    assert by_jid[jids[1]][1] == pytest.approx(base + 1, abs=1e-5)
    assert by_jid[jids[2]] == ([3], base + 3)


def test_perform_bulk_wrong_time_count(client: Client, redis_client: redis.Redis) -> None:
    with pytest.raises(JobArgumentError, match="2 times for 3 jobs"):
        send_welcome.set(client=client).perform_bulk([[1], [2], [3]], at=[time.time(), time.time()])

    assert redis_client.dbsize() == 0


@pytest.mark.parametrize("item", [5, "abc", {"user_id": 1}])
def test_perform_bulk_non_list_item(client: Client, item: Any) -> None:
    with pytest.raises(JobArgumentError, match="perform_bulk item 1 must be a list of arguments"):
        send_welcome.set(client=client).perform_bulk([[1], item])


def test_perform_bulk_bad_arguments_item(client: Client, redis_client: redis.Redis) -> None:
    with pytest.raises(JobArgumentError) as info:
        send_welcome.set(client=client).perform_bulk([[1], []])

    message = str(info.value)
    assert message.startswith("perform_bulk item 1: ")
    assert "'user_id'" in message
    assert redis_client.dbsize() == 0


def test_perform_bulk_empty_list(client: Client, redis_client: redis.Redis) -> None:
    assert send_welcome.set(client=client).perform_bulk([]) == []
    assert redis_client.dbsize() == 0


# ------------------------------------------------------------------- .set()


def test_set_overrides_options(client: Client, redis_client: redis.Redis) -> None:
    handle = charge.set(queue="urgent", retry=False, client=client)

    handle.perform_async(1, 2.0)

    [item] = queued(redis_client, "urgent")
    assert item["queue"] == "urgent"
    assert item["retry"] is False
    assert item["tags"] == ["money"]
    assert isinstance(handle, JobHandle)


def test_set_chaining_merges(client: Client, redis_client: redis.Redis) -> None:
    send_welcome.set(queue="first").set(retry=2).set(client=client).perform_async(1)

    [item] = queued(redis_client, "first")
    assert item["retry"] == 2


def test_set_leaves_job_unchanged() -> None:
    charge.set(queue="urgent", retry=1)

    assert charge.options == {"queue": "billing", "retry": 5, "tags": ["money"]}


def test_set_invalid_option_rejected() -> None:
    with pytest.raises(JobArgumentError, match="'retry'"):
        send_welcome.set(retry="lots")


def test_set_invalid_client_rejected() -> None:
    with pytest.raises(JobArgumentError, match="Client or AsyncClient"):
        send_welcome.set(client="redis://localhost")


# --------------------------------------------------------------- async verbs


def test_aperform_async_pushes(redis_url: str, redis_client: redis.Redis) -> None:
    async def main() -> tuple[str, str]:
        async with AsyncClient(redis_url, settings=Settings(), middleware=Chain()) as client:
            handle = charge.set(client=client)
            first = await handle.aperform_async(1, 2.0, currency="GBP")
            second = await handle.aperform_in(300, 2, 3.0)
            return first, second

    first, second = asyncio.run(main())

    [item] = queued(redis_client, "billing")
    assert item["jid"] == first
    assert item["kwargs"] == {"currency": "GBP"}
    [(scheduled_item, _)] = scheduled(redis_client)
    assert scheduled_item["jid"] == second


def test_aperform_bulk_pushes(redis_url: str, redis_client: redis.Redis) -> None:
    async def main() -> list[str]:
        async with AsyncClient(redis_url, settings=Settings(), middleware=Chain()) as client:
            return await send_welcome.set(client=client).aperform_bulk([[1], [2]])

    jids = asyncio.run(main())

    assert [item["jid"] for item in queued(redis_client)] == jids
