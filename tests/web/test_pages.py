"""Every dashboard page and JSON endpoint, rendered over HTTP against real Redis."""

from __future__ import annotations

import datetime as dt
import re
import time
from urllib.parse import quote

import redis

from roadie import payload


def _rows(html: str) -> int:
    """Count table body rows that show a job (those with an arguments cell)."""
    return html.count('class="data args"')


# ---------------------------------------------------------------- dashboard


def test_dashboard_shows_counters(dashboard, seed, redis_client: redis.Redis) -> None:
    redis_client.set("stat:processed", 123456)
    redis_client.set("stat:failed", 789)
    seed.enqueue()
    seed.enqueue(queue="low")
    seed.retry()
    seed.dead()
    seed.scheduled()
    seed.scheduled()
    seed.process(running=[seed.job()])

    html = dashboard.get("/").text

    assert re.search(r'data-stat="processed">123,456<', html)
    assert re.search(r'data-stat="failed">789<', html)
    assert re.search(r'data-stat="busy">1<', html)
    assert re.search(r'data-stat="enqueued">2<', html)
    assert re.search(r'data-stat="retries">1<', html)
    assert re.search(r'data-stat="scheduled">2<', html)
    assert re.search(r'data-stat="dead">1<', html)


def test_dashboard_shows_redis_facts(dashboard, redis_server) -> None:
    html = dashboard.get("/").text
    assert f"<dd>{redis_server.version}</dd>" in html
    assert "Peak memory" in html
    assert "Connections" in html


def test_dashboard_history_reads_daily_keys(dashboard, redis_client: redis.Redis) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    redis_client.set(f"stat:processed:{today.isoformat()}", 40)
    redis_client.set(f"stat:processed:{(today - dt.timedelta(days=6)).isoformat()}", 2)
    redis_client.set(f"stat:processed:{(today - dt.timedelta(days=7)).isoformat()}", 1000)

    html = dashboard.get("/?days=7").text

    assert "Last 7 days (UTC): 42 processed" in html
    assert today.isoformat() in html


def test_dashboard_head_is_cheap_check(dashboard) -> None:
    response = dashboard.http.head("/")
    assert response.status_code == 200
    assert response.content == b""


def test_redis_down_gives_503() -> None:
    from starlette.testclient import TestClient

    from roadie.web import create_app

    # Port 1 on loopback refuses connections.
    with TestClient(create_app("redis://127.0.0.1:1/0")) as http:
        page = http.get("/retries")
        head = http.head("/")
    assert page.status_code == 503
    assert "Redis" in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert head.status_code == 503


def test_stats_json_has_sidekiq_shape(dashboard, seed, redis_client: redis.Redis) -> None:
    redis_client.set("stat:processed", 10)
    seed.enqueue()
    seed.retry()

    body = dashboard.get("/stats").json()

    assert body["sidekiq"]["processed"] == 10
    assert body["sidekiq"]["enqueued"] == 1
    assert body["sidekiq"]["retries"] == 1
    assert body["sidekiq"]["dead"] == 0
    assert body["sidekiq"]["processes"] == 0
    assert body["sidekiq"]["default_latency"] >= 0
    assert body["redis"]["redis_version"]
    assert body["server_utc_time"].endswith("UTC")


def test_stats_queues_maps_sizes(dashboard, seed) -> None:
    seed.enqueue(queue="default")
    seed.enqueue(queue="low")
    seed.enqueue(queue="low")
    assert dashboard.get("/stats/queues").json() == {"low": 2, "default": 1}


def test_old_stats_path_redirects(dashboard) -> None:
    response = dashboard.get("/dashboard/stats", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/stats"


# --------------------------------------------------------------------- busy


def test_busy_lists_processes_and_jobs(dashboard, seed) -> None:
    running = seed.job(job_class="SlowReport", args=[2024, "weekly"], queue="reports")
    identity = seed.process(tag="billing", labels=["blue", "canary"], weights={"reports": 3, "default": 1},
                            concurrency=7, running=[running])

    html = dashboard.get("/busy").text

    assert identity in html
    assert '<span class="tag">billing</span>' in html
    assert '<span class="tag">blue</span>' in html
    assert '<span class="tag">canary</span>' in html
    assert "180.7 MB" in html
    assert 'reports <span class="muted">(3)</span>' in html
    assert "SlowReport" in html
    assert running["jid"] in html
    assert "2024, &#34;weekly&#34;" in html
    assert "1 of 7 threads busy" in html


def test_busy_marks_quiet_and_embedded(dashboard, seed) -> None:
    seed.process(quiet=True)
    seed.process(embedded=True)

    html = dashboard.get("/busy").text

    assert '<span class="badge warn">quiet</span>' in html
    assert '<span class="badge">embedded</span>' in html


def test_busy_pages_running_jobs(dashboard, seed) -> None:
    seed.process(running=[seed.job(args=[index]) for index in range(5)], concurrency=5)
    html = dashboard.get("/busy?count=2&page=3").text
    assert _rows(html) == 1
    assert "5–5 of 5 running jobs" in html


# ------------------------------------------------------------------- queues


def test_queues_lists_size_latency_paused(dashboard, seed, redis_client: redis.Redis) -> None:
    for _ in range(3):
        seed.enqueue(queue="mailers")
    redis_client.sadd("paused", "mailers")

    html = dashboard.get("/queues").text

    assert '<a href="/queues/mailers">mailers</a> <span class="badge warn">paused</span>' in html
    assert '<td class="num">3</td>' in html


def test_queue_page_newest_first(dashboard, seed) -> None:
    for index in range(30):
        seed.enqueue(args=[f"job-{index:02d}"])

    html = dashboard.get("/queues/default").text

    assert _rows(html) == 25
    assert html.index("job-29") < html.index("job-28")
    assert "job-04" not in html
    assert "1–25 of 30" in html


def test_queue_page_oldest_first(dashboard, seed) -> None:
    for index in range(30):
        seed.enqueue(args=[f"job-{index:02d}"])

    html = dashboard.get("/queues/default?direction=asc&page=2&count=10").text

    assert _rows(html) == 10
    assert html.index("job-10") < html.index("job-19")
    assert "job-09" not in html
    assert "job-20" not in html


def test_queue_last_page_partial(dashboard, seed) -> None:
    for index in range(7):
        seed.enqueue(args=[f"job-{index}"])
    newest = dashboard.get("/queues/default?count=5&page=2").text
    oldest = dashboard.get("/queues/default?count=5&page=2&direction=asc").text
    assert _rows(newest) == 2
    assert _rows(oldest) == 2
    assert "job-5" in oldest
    assert "job-6" in oldest


def test_queue_page_past_end_empty(dashboard, seed) -> None:
    seed.enqueue()
    html = dashboard.get("/queues/default?page=9&direction=asc").text
    assert _rows(html) == 0
    assert "Page 9 is past the end (last page: 1)." in html
    assert "No jobs on this page." in html
    assert "This queue is empty." not in html


def test_set_page_past_end_says_so(dashboard, seed) -> None:
    for _ in range(3):
        seed.dead()

    html = dashboard.get("/morgue?page=999").text

    assert "Page 999 is past the end (last page: 1)." in html
    assert 'href="/morgue?page=1">Last page' in html
    assert "The dead set is empty." not in html


def test_queue_name_invalid_is_404(dashboard) -> None:
    for name in ("bad$name", "with space", quote("a/b", safe=""), "%3Cscript%3E", "é"):
        response = dashboard.get(f"/queues/{name}")
        assert response.status_code == 404, name


def test_queue_page_shows_kwargs(dashboard, seed) -> None:
    seed.enqueue(args=[1], kwargs={"user": "ann"})
    html = dashboard.get("/queues/default").text
    assert "1, user=&#34;ann&#34;" in html


def test_queue_shows_invalid_payload(dashboard, redis_client: redis.Redis) -> None:
    redis_client.sadd("queues", "default")
    redis_client.lpush("queue:default", b"not json at all")
    html = dashboard.get("/queues/default").text
    assert "(invalid payload)" in html
    assert "not json at all" in html


# ------------------------------------------------------------- sorted sets


def test_retries_list_columns(dashboard, seed) -> None:
    score, jid, _ = seed.retry(error_message="disk full", retry_count=4, job_class="Resizer", args=["a.png"])

    html = dashboard.get("/retries").text

    assert f"/retries/{score!r}-{jid}" in html
    assert "Resizer" in html
    assert "&#34;a.png&#34;" in html
    assert "<strong>RuntimeError</strong>: disk full" in html
    assert '<td class="num">4</td>' in html


def test_retries_paged_by_score(dashboard, seed) -> None:
    now = time.time()
    for index in range(30):
        seed.retry(score=now + index, args=[f"entry-{index:02d}"])

    first = dashboard.get("/retries").text
    second = dashboard.get("/retries?page=2").text

    assert _rows(first) == 25
    assert first.index("entry-00") < first.index("entry-24")
    assert _rows(second) == 5
    assert "entry-25" in second


def test_morgue_lists_newest_first(dashboard, seed) -> None:
    now = time.time()
    seed.dead(score=now - 100, args=["died-earlier"])
    seed.dead(score=now - 10, args=["died-later"])
    html = dashboard.get("/morgue").text
    assert html.index("died-later") < html.index("died-earlier")


def test_scheduled_list_has_no_error_column(dashboard, seed) -> None:
    seed.scheduled(job_class="Reminder")
    html = dashboard.get("/scheduled").text
    assert "Reminder" in html
    assert "<th>Error</th>" not in html
    assert "Add All to Queue" in html


def test_page_links_keep_known_parameters(dashboard, seed) -> None:
    for _ in range(3):
        seed.retry()
    html = dashboard.get("/retries?count=1&evil=1").text
    assert 'href="/retries?count=1&amp;page=2"' in html
    assert "evil" not in html


def test_set_filter_matches_substring(dashboard, seed) -> None:
    seed.retry(args=["customer-42"])
    seed.retry(args=["customer-7"])
    seed.retry(args=["someone-else"])

    html = dashboard.get("/retries?substr=customer").text

    assert _rows(html) == 2
    assert "someone-else" not in html
    assert 'value="customer"' in html


def test_set_filter_glob_characters_literal(dashboard, seed) -> None:
    seed.retry(args=["a*b"])
    seed.retry(args=["axxb"])
    html = dashboard.get("/retries?substr=a*b").text
    assert _rows(html) == 1


def test_set_filter_goes_on_from_last_match(dashboard, seed) -> None:
    now = time.time()
    for index in range(30):
        seed.dead(score=now - index, args=[f"needle-{index:02d}"])
    cursor = f"{now - 24!r},1"

    first = dashboard.get("/morgue?substr=needle&evil=1").text
    further = dashboard.get("/morgue", params={"substr": "needle", "after": cursor}).text

    assert _rows(first) == 25
    assert f'href="/morgue?substr=needle&amp;after={quote(cursor, safe="")}"' in first
    assert "25 jobs match the filter in jobs 1–25 of 30" in first
    assert _rows(further) == 5
    assert "needle-29" in further
    assert "needle-24" not in further
    assert "Search further" not in further
    assert 'href="/morgue?substr=needle">« Search from the start' in further


def test_set_filter_says_when_nothing_further(dashboard, seed) -> None:
    now = time.time()
    seed.dead(score=now, args=["needle"])
    seed.dead(score=now - 1, args=["hay"])

    html = dashboard.get("/morgue", params={"substr": "needle", "after": f"{now!r},1"}).text

    assert "No further job matches the filter." in html


def test_set_filter_invalid_cursor_rejected(dashboard, seed) -> None:
    assert dashboard.get("/retries", params={"substr": "x", "after": "abc"}).status_code == 400
    assert dashboard.get("/retries", params={"after": "1.5"}).status_code == 400


def test_set_filter_shows_progress_when_time_runs_out(dashboard, seed, monkeypatch) -> None:
    from roadie.api.sets import SEARCH_CHUNK
    from roadie.web import reads

    monkeypatch.setattr(reads, "SEARCH_TIME_BUDGET", 0)
    now = time.time()
    seed.redis.zadd("retry", {f'{{"class":"HardJob","args":[{index}],"jid":"j{index}"}}': now + index
                              for index in range(SEARCH_CHUNK + 1)})

    html = dashboard.get("/retries?substr=needle").text

    assert "No match in the jobs searched so far." in html
    assert f"0 jobs match the filter in jobs 1–{SEARCH_CHUNK:,} of {SEARCH_CHUNK + 1:,}" in html
    assert quote(f"{now + SEARCH_CHUNK - 1!r},1", safe="") in html


def test_retry_detail_shows_every_field(dashboard, seed) -> None:
    score, jid, _ = seed.retry(
        job_class="InvoiceJob", args=[7, {"total": 12.5}], error_message="gateway timed out", retry_count=3,
        tags=["billing", "eu"], retry_queue="slow", backtrace=10, bid="batch-1", custom_key={"nested": [1, 2]},
        another="value",
    )

    response = dashboard.get(f"/retries/{score!r}-{jid}")
    html = response.text

    assert response.status_code == 200
    assert "InvoiceJob" in html
    assert jid in html
    assert "gateway timed out" in html
    assert "RuntimeError" in html
    assert "app/jobs.py:12:in `perform&#39;" in html
    assert "lib/run.py:3:in `call&#39;" in html
    assert '<span class="tag">billing</span>' in html
    assert "&#34;slow&#34;" in html
    assert "&#34;batch-1&#34;" in html
    assert "Other keys" in html
    assert "custom_key" in html
    assert "&#34;nested&#34;" in html
    assert "another" in html
    assert "&#34;total&#34;: 12.5" in html
    assert "Retry Now" in html
    assert "Kill" in html


def test_detail_reads_millisecond_timestamps(dashboard, seed) -> None:
    failed_ms = int((time.time() - 3600) * 1000)
    score, jid, _ = seed.dead(failed_at=failed_ms)
    html = dashboard.get(f"/morgue/{score!r}-{jid}").text
    expected = dt.datetime.fromtimestamp(failed_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert expected in html


def test_detail_undecodable_backtrace_shown_raw(dashboard, seed) -> None:
    score, jid, _ = seed.retry(error_backtrace="not-base64!")
    html = dashboard.get(f"/retries/{score!r}-{jid}").text
    assert "The backtrace could not be decoded" in html
    assert "not-base64!" in html


def test_detail_plain_array_backtrace(dashboard, seed) -> None:
    score, jid, _ = seed.retry(error_backtrace=["old/style.rb:1"])
    html = dashboard.get(f"/retries/{score!r}-{jid}").text
    assert "old/style.rb:1" in html


def test_scheduled_detail_offers_add_to_queue(dashboard, seed) -> None:
    score, jid, _ = seed.scheduled()
    html = dashboard.get(f"/scheduled/{score!r}-{jid}").text
    assert "Add to Queue" in html
    assert "Retry Now" not in html


def test_detail_missing_entry_is_404(dashboard) -> None:
    response = dashboard.get("/retries/1700000000.5-0123456789abcdef01234567")
    assert response.status_code == 404
    assert "no longer in the retry set" in response.text


def test_detail_malformed_key_is_404(dashboard) -> None:
    for key in ("nonsense", "abc-def", "inf-jid", "nan-jid", "1e999-jid"):
        assert dashboard.get(f"/morgue/{key}").status_code == 404, key


def test_detail_invalid_payload_shown(dashboard, redis_client: redis.Redis) -> None:
    redis_client.zadd("dead", {b"[1, 2, 3]": 1700000000.25})
    html = dashboard.get("/morgue/1700000000.25-").text
    assert "This entry is not a JSON object" in html
    assert "[1, 2, 3]" in html


def test_detail_key_with_quoted_jid(dashboard, seed) -> None:
    job = seed.failed_job()
    job["jid"] = "odd/jid?x#y"
    score, jid, _ = seed.add("retry", job)
    list_html = dashboard.get("/retries").text
    link = f"/retries/{quote(f'{score!r}-{jid}', safe='')}"
    assert link in list_html
    assert dashboard.get(link).status_code == 200


def test_pages_show_redacted_location(redis_server, redis_url) -> None:
    from starlette.testclient import TestClient

    from roadie.web import create_app

    url = redis_url.replace("redis://", "redis://:hunter2@")
    with TestClient(create_app(url)) as http:
        html = http.get("/").text
    assert "hunter2" not in html
    assert f"127.0.0.1:{redis_server.port}" in html


def test_payload_bytes_round_trip(dashboard, seed) -> None:
    # The delete form carries the job's exact bytes; check they decode back.
    seed.enqueue(args=["ünïcode ✓"])
    html = dashboard.get("/queues/default").text
    match = re.search(r'name="key_val" value="([^"]+)"', html)
    assert match is not None
    import base64

    raw = base64.urlsafe_b64decode(match.group(1))
    assert payload.decode(raw)["args"] == ["ünïcode ✓"]
