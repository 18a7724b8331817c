"""Every dashboard action, posted as a same-origin form, and its effect in Redis."""

from __future__ import annotations

import time
from urllib.parse import unquote

import orjson
import redis


def _flash(response) -> str:
    return unquote(response.cookies.get("roadie_flash", ""))


def _queue_jobs(redis_client: redis.Redis, name: str = "default") -> list[dict]:
    return [orjson.loads(raw) for raw in redis_client.lrange(f"queue:{name}", 0, -1)]


# ------------------------------------------------------------------- queues


def test_clear_queue_removes_jobs(dashboard, seed, redis_client: redis.Redis) -> None:
    seed.enqueue(queue="mailers")
    seed.enqueue(queue="mailers")
    seed.enqueue(queue="default")

    response = dashboard.act("/queues/mailers", {"action": "clear"})

    assert response.status_code == 303
    assert response.headers["location"] == "/queues"
    assert redis_client.llen("queue:mailers") == 0
    assert not redis_client.sismember("queues", "mailers")
    assert redis_client.llen("queue:default") == 1
    assert "2 jobs deleted" in _flash(response)


def test_pause_and_resume_queue(dashboard, seed, redis_client: redis.Redis) -> None:
    seed.enqueue(queue="low")
    dashboard.act("/queues/low", {"action": "pause"})
    assert redis_client.sismember("paused", "low")
    dashboard.act("/queues/low", {"action": "resume"})
    assert not redis_client.sismember("paused", "low")


def test_queue_action_unknown_is_400(dashboard, seed, redis_client: redis.Redis) -> None:
    seed.enqueue()
    response = dashboard.act("/queues/default", {"action": "explode"})
    assert response.status_code == 400
    assert redis_client.llen("queue:default") == 1


def test_delete_one_queued_job(dashboard, seed, redis_client: redis.Redis) -> None:
    keep = seed.enqueue(args=["keep"])
    seed.enqueue(args=["remove"])
    html = dashboard.get("/queues/default").text
    start = html.index("&#34;remove&#34;")
    key_val = html[html.index('name="key_val" value="', start) + len('name="key_val" value="'):]
    key_val = key_val[: key_val.index('"')]

    response = dashboard.act("/queues/default/delete", {"key_val": key_val})

    assert response.status_code == 303
    assert [job["jid"] for job in _queue_jobs(redis_client)] == [keep]


def test_delete_ruby_formatted_job_exactly(dashboard, redis_client: redis.Redis) -> None:
    # Ruby writes its own spacing and key order; the job is found by its exact bytes.
    raw = b'{"retry":true,"queue":"default","class":"RubyJob","args":[1],"jid":"aaaaaaaaaaaaaaaaaaaaaaaa"}'
    redis_client.sadd("queues", "default")
    redis_client.lpush("queue:default", raw)
    import base64

    response = dashboard.act("/queues/default/delete", {"key_val": base64.urlsafe_b64encode(raw).decode()})

    assert response.status_code == 303
    assert redis_client.llen("queue:default") == 0


def test_delete_job_bad_reference_400(dashboard) -> None:
    assert dashboard.act("/queues/default/delete", {"key_val": "%%%"}).status_code == 400
    assert dashboard.act("/queues/default/delete", {}).status_code == 400


# ------------------------------------------------------------- one entry


def test_retry_now_pushes_job(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.retry(retry_count=3, queue="critical")

    response = dashboard.act(f"/retries/{score!r}-{jid}", {"action": "retry"})

    assert response.status_code == 303
    assert response.headers["location"] == "/retries"
    assert redis_client.zcard("retry") == 0
    jobs = _queue_jobs(redis_client, "critical")
    assert [job["jid"] for job in jobs] == [jid]
    assert jobs[0]["retry_count"] == 2
    assert redis_client.sismember("queues", "critical")


def test_delete_retry_entry(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.retry()
    other = seed.retry()
    dashboard.act(f"/retries/{score!r}-{jid}", {"action": "delete"})
    assert redis_client.zcard("retry") == 1
    assert redis_client.zscore("retry", other[2]) == other[0]


def test_kill_retry_entry(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, raw = seed.retry()

    dashboard.act(f"/retries/{score!r}-{jid}", {"action": "kill"})

    assert redis_client.zcard("retry") == 0
    assert redis_client.zscore("dead", raw) is not None


def test_add_scheduled_to_queue(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.scheduled(queue="later")
    dashboard.act(f"/scheduled/{score!r}-{jid}", {"action": "add_to_queue"})
    assert redis_client.zcard("schedule") == 0
    assert [job["jid"] for job in _queue_jobs(redis_client, "later")] == [jid]


def test_delete_scheduled_entry(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.scheduled()
    dashboard.act(f"/scheduled/{score!r}-{jid}", {"action": "delete"})
    assert redis_client.zcard("schedule") == 0


def test_retry_dead_job(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.dead(retry_count=25)
    dashboard.act(f"/morgue/{score!r}-{jid}", {"action": "retry"})
    assert redis_client.zcard("dead") == 0
    assert _queue_jobs(redis_client)[0]["retry_count"] == 24


def test_delete_dead_job(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.dead()
    dashboard.act(f"/morgue/{score!r}-{jid}", {"action": "delete"})
    assert redis_client.zcard("dead") == 0


def test_set_refuses_foreign_action(dashboard, seed, redis_client: redis.Redis) -> None:
    scheduled = seed.scheduled()
    dead = seed.dead()
    assert dashboard.act(f"/scheduled/{scheduled[0]!r}-{scheduled[1]}", {"action": "kill"}).status_code == 400
    assert dashboard.act(f"/morgue/{dead[0]!r}-{dead[1]}", {"action": "kill"}).status_code == 400
    assert redis_client.zcard("schedule") == 1
    assert redis_client.zcard("dead") == 1


def test_action_on_gone_entry_says_so(dashboard) -> None:
    response = dashboard.act("/retries/1700000000.5-0123456789abcdef01234567", {"action": "retry"})
    assert response.status_code == 303
    assert "no longer in the retry set" in _flash(response)


def test_retry_invalid_payload_reported(dashboard, redis_client: redis.Redis) -> None:
    redis_client.zadd("retry", {b"garbage": 1700000000.5})
    response = dashboard.act("/retries/1700000000.5-", {"action": "retry"})
    assert "could not be pushed" in _flash(response)
    assert redis_client.zcard("retry") == 1


def test_flash_shown_once(dashboard, seed) -> None:
    score, jid, _ = seed.retry()
    dashboard.act(f"/retries/{score!r}-{jid}", {"action": "delete"})
    first = dashboard.get("/retries").text
    second = dashboard.get("/retries").text
    assert "Deleted 1 job." in first
    assert "Deleted 1 job." not in second


# --------------------------------------------------------------- selection


def test_selected_retries_retried(dashboard, seed, redis_client: redis.Redis) -> None:
    chosen = [seed.retry() for _ in range(3)]
    untouched = seed.retry()
    keys = [f"{score!r}-{jid}" for score, jid, _ in chosen]

    response = dashboard.act("/retries", {"action": "retry", "key": keys})

    assert "Retried 3 jobs." in _flash(response)
    assert redis_client.zrange("retry", 0, -1) == [untouched[2]]
    assert sorted(job["jid"] for job in _queue_jobs(redis_client)) == sorted(jid for _, jid, _ in chosen)


def test_selected_dead_deleted(dashboard, seed, redis_client: redis.Redis) -> None:
    chosen = [seed.dead() for _ in range(2)]
    keys = [f"{score!r}-{jid}" for score, jid, _ in chosen]
    dashboard.act("/morgue", {"action": "delete", "key": keys})
    assert redis_client.zcard("dead") == 0


def test_selected_retries_killed(dashboard, seed, redis_client: redis.Redis) -> None:
    chosen = [seed.retry() for _ in range(2)]
    dashboard.act("/retries", {"action": "kill", "key": [f"{s!r}-{j}" for s, j, _ in chosen]})
    assert redis_client.zcard("retry") == 0
    assert redis_client.zcard("dead") == 2


def test_selected_scheduled_added(dashboard, seed, redis_client: redis.Redis) -> None:
    chosen = [seed.scheduled() for _ in range(2)]
    dashboard.act("/scheduled", {"action": "add_to_queue", "key": [f"{s!r}-{j}" for s, j, _ in chosen]})
    assert redis_client.zcard("schedule") == 0
    assert redis_client.llen("queue:default") == 2


def test_selection_with_bad_key_400(dashboard, seed, redis_client: redis.Redis) -> None:
    score, jid, _ = seed.retry()
    response = dashboard.act("/retries", {"action": "delete", "key": [f"{score!r}-{jid}", "bogus"]})
    assert response.status_code == 400
    assert redis_client.zcard("retry") == 1


def test_selection_too_many_keys_400(dashboard) -> None:
    keys = [f"1700000000.{index}-x" for index in range(1001)]
    assert dashboard.act("/retries", {"action": "delete", "key": keys}).status_code == 400


def test_empty_selection_changes_nothing(dashboard, seed, redis_client: redis.Redis) -> None:
    seed.retry()
    response = dashboard.act("/retries", {"action": "delete"})
    assert "No jobs were selected." in _flash(response)
    assert redis_client.zcard("retry") == 1


# ----------------------------------------------------------- whole sets


def test_retry_all_drains_every_batch(dashboard, seed, redis_client: redis.Redis) -> None:
    # More entries than one ZPOPMIN batch, so the drain must loop.
    now = time.time()
    for index in range(250):
        seed.retry(score=now + index)

    response = dashboard.act("/retries/all/retry")

    assert "Retried 250 jobs." in _flash(response)
    assert redis_client.zcard("retry") == 0
    assert redis_client.llen("queue:default") == 250


def test_kill_all_moves_to_dead(dashboard, seed, redis_client: redis.Redis) -> None:
    for _ in range(120):
        seed.retry()
    dashboard.act("/retries/all/kill")
    assert redis_client.zcard("retry") == 0
    assert redis_client.zcard("dead") == 120


def test_delete_all_retries(dashboard, seed, redis_client: redis.Redis) -> None:
    for _ in range(3):
        seed.retry()
    dashboard.act("/retries/all/delete")
    assert redis_client.exists("retry") == 0


def test_add_all_scheduled_to_queue(dashboard, seed, redis_client: redis.Redis) -> None:
    for _ in range(130):
        seed.scheduled()
    dashboard.act("/scheduled/all/add_to_queue")
    assert redis_client.zcard("schedule") == 0
    assert redis_client.llen("queue:default") == 130


def test_delete_all_scheduled(dashboard, seed, redis_client: redis.Redis) -> None:
    seed.scheduled()
    dashboard.act("/scheduled/all/delete")
    assert redis_client.exists("schedule") == 0


def test_retry_all_dead(dashboard, seed, redis_client: redis.Redis) -> None:
    for _ in range(3):
        seed.dead()
    dashboard.act("/morgue/all/retry")
    assert redis_client.zcard("dead") == 0
    assert redis_client.llen("queue:default") == 3


def test_delete_all_dead(dashboard, seed, redis_client: redis.Redis) -> None:
    seed.dead()
    dashboard.act("/morgue/all/delete")
    assert redis_client.exists("dead") == 0


def test_unknown_set_wide_action_404(dashboard, seed, redis_client: redis.Redis) -> None:
    seed.dead()
    assert dashboard.act("/morgue/all/kill").status_code == 404
    assert dashboard.act("/scheduled/all/retry").status_code == 404
    assert redis_client.zcard("dead") == 1


# --------------------------------------------------------------------- busy


def test_quiet_one_process(dashboard, seed, redis_client: redis.Redis) -> None:
    target = seed.process()
    other = seed.process()

    response = dashboard.act("/busy", {"action": "quiet", "identity": target})

    assert response.status_code == 303
    assert redis_client.lrange(f"{target}-signals", 0, -1) == [b"TSTP"]
    assert redis_client.llen(f"{other}-signals") == 0
    assert 0 < redis_client.ttl(f"{target}-signals") <= 60


def test_stop_one_process(dashboard, seed, redis_client: redis.Redis) -> None:
    target = seed.process()
    dashboard.act("/busy", {"action": "stop", "identity": target})
    assert redis_client.lrange(f"{target}-signals", 0, -1) == [b"TERM"]


def test_quiet_all_skips_embedded(dashboard, seed, redis_client: redis.Redis) -> None:
    first = seed.process()
    second = seed.process()
    embedded = seed.process(embedded=True)

    response = dashboard.act("/busy", {"action": "quiet"})

    assert redis_client.lrange(f"{first}-signals", 0, -1) == [b"TSTP"]
    assert redis_client.lrange(f"{second}-signals", 0, -1) == [b"TSTP"]
    assert redis_client.llen(f"{embedded}-signals") == 0
    assert "to 2 processes" in _flash(response)


def test_stop_all_processes(dashboard, seed, redis_client: redis.Redis) -> None:
    first = seed.process()
    dashboard.act("/busy", {"action": "stop"})
    assert redis_client.lrange(f"{first}-signals", 0, -1) == [b"TERM"]


def test_signal_gone_process_says_so(dashboard, redis_client: redis.Redis) -> None:
    response = dashboard.act("/busy", {"action": "quiet", "identity": "ghost:1:abcdefabcdef"})
    assert "no longer running" in _flash(response)
    assert redis_client.llen("ghost:1:abcdefabcdef-signals") == 0


def test_busy_unknown_action_400(dashboard, seed, redis_client: redis.Redis) -> None:
    target = seed.process()
    assert dashboard.act("/busy", {"action": "TTIN", "identity": target}).status_code == 400
    assert redis_client.llen(f"{target}-signals") == 0
