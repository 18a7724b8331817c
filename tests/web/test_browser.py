"""The dashboard in headless Chromium: pages load cleanly, buttons act, job data never runs.

Chromium is Debian's package (see the ``chromium_path`` fixture); Playwright
drives it. Set ``UPDATE_SCREENSHOTS=1`` to write the screenshots in docs/img
instead of a temporary folder.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis

from roadie import payload

pytest.importorskip("playwright.sync_api")

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
TIMEOUT_MS = 10_000


@dataclass
class Watch:
    """What a page reported: console errors, uncaught exceptions and dialogs."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[tuple[str, str]] = field(default_factory=list)
    accept_confirm: bool = True

    def problems(self) -> list[str]:
        return self.console_errors + self.page_errors


def _open_page(browser: Any, base_url: str, **options: Any) -> tuple[Any, Any, Watch]:
    context = browser.new_context(base_url=base_url, **{"viewport": {"width": 1280, "height": 900}, **options})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = Watch()
    page.on("console", lambda message: watch.console_errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append((dialog.type, dialog.message))
        if dialog.type == "confirm" and watch.accept_confirm:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    return context, page, watch


@pytest.fixture
def opened(browser, live_server) -> Iterator[tuple[Any, Watch]]:
    context, page, watch = _open_page(browser, live_server.url)
    try:
        yield page, watch
    finally:
        context.close()


def _key(entry: tuple[float, str, bytes]) -> str:
    score, jid, _ = entry
    return quote(f"{score!r}-{jid}", safe="")


def _wait_until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Poll ``expression`` in the page until it is truthy.

    Playwright's wait_for_function evaluates a string with eval, which the
    dashboard's Content-Security-Policy forbids; page.evaluate is not affected.
    """
    _wait_for(lambda: page.evaluate(expression), expression, timeout)


def _wait_for(predicate: Any, description: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {description}")


# ------------------------------------------------------------------- pages


def test_every_page_loads_cleanly(opened, seed) -> None:
    page, watch = opened
    seed.enqueue()
    seed.process(running=[seed.job()])
    retry = seed.retry()
    scheduled = seed.scheduled()
    dead = seed.dead()
    paths = ["/", "/busy", "/queues", "/queues/default", "/retries", "/scheduled", "/morgue", "/metrics",
             "/metrics/HardJob", f"/retries/{_key(retry)}", f"/scheduled/{_key(scheduled)}", f"/morgue/{_key(dead)}"]
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("load")
        assert watch.problems() == [], path


def test_dashboard_draws_both_charts(opened) -> None:
    page, watch = opened
    page.goto("/")
    _wait_until(page, "Chart.getChart(document.getElementById('history-chart')) !== undefined")
    _wait_until(page, "Chart.getChart(document.getElementById('realtime-chart')) !== undefined")
    labels = page.evaluate("Chart.getChart(document.getElementById('history-chart')).data.labels.length")
    assert labels == 30
    assert watch.problems() == []


def test_realtime_chart_polls_stats(opened, redis_client: redis.Redis) -> None:
    page, watch = opened
    page.add_init_script("localStorage.setItem('roadie.pollInterval', '2000')")
    page.goto("/")
    redis_client.incrby("stat:processed", 7)
    with page.expect_response(lambda response: response.url.endswith("/stats")):
        pass
    _wait_until(page, "Chart.getChart(document.getElementById('realtime-chart')).data.labels.length >= 1")
    _wait_until(page, "document.querySelector('[data-stat=processed]').textContent === '7'")
    assert watch.problems() == []


@pytest.mark.parametrize(("stored", "expected"), [("1", 2000), ("0", 5000), ("-50", 5000), ("abc", 5000),
                                                  ("1e9", 60000), ("3000", 3000)])
def test_stored_interval_is_clamped(opened, stored: str, expected: int) -> None:
    page, _ = opened
    page.add_init_script(f"localStorage.setItem('roadie.pollInterval', {stored!r})")
    page.goto("/")
    assert page.evaluate("window.roadie.pollInterval()") == expected


def test_interval_slider_saves_value(opened) -> None:
    page, _ = opened
    page.goto("/")
    page.locator("#poll-interval").fill("12")
    page.locator("#poll-interval").dispatch_event("change")
    assert page.evaluate("localStorage.getItem('roadie.pollInterval')") == "12000"
    assert page.locator("#poll-interval-value").text_content() == "12 s"


def test_phone_layout_does_not_overflow(browser, live_server, seed) -> None:
    seed.retry(args=["x" * 300], error_message="y" * 300)
    context, page, watch = _open_page(browser, live_server.url, viewport={"width": 390, "height": 844},
                                      is_mobile=True, has_touch=True)
    try:
        for path in ("/", "/retries", "/busy", "/queues"):
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, path
        assert watch.problems() == []
    finally:
        context.close()


# ----------------------------------------------------------------- actions


def test_retry_now_button(opened, seed, redis_client: redis.Redis) -> None:
    page, _ = opened
    retry = seed.retry(queue="critical")
    page.goto(f"/retries/{_key(retry)}")
    page.get_by_role("button", name="Retry Now").click()
    page.wait_for_url("**/retries")
    assert redis_client.zcard("retry") == 0
    assert redis_client.llen("queue:critical") == 1
    assert "Retried 1 job." in page.locator(".flash").text_content()


def test_delete_button_asks_first(opened, seed, redis_client: redis.Redis) -> None:
    page, watch = opened
    scheduled = seed.scheduled()
    page.goto(f"/scheduled/{_key(scheduled)}")
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/scheduled")
    assert watch.dialogs == [("confirm", "Delete this job?")]
    assert redis_client.zcard("schedule") == 0


def test_dismissed_confirm_changes_nothing(opened, seed, redis_client: redis.Redis) -> None:
    page, watch = opened
    watch.accept_confirm = False
    dead = seed.dead()
    page.goto(f"/morgue/{_key(dead)}")
    page.get_by_role("button", name="Delete").click()
    _wait_for(lambda: watch.dialogs, "the confirm dialog")
    assert page.url.endswith(f"/morgue/{_key(dead)}")
    assert redis_client.zcard("dead") == 1


def test_kill_button(opened, seed, redis_client: redis.Redis) -> None:
    page, _ = opened
    retry = seed.retry()
    page.goto(f"/retries/{_key(retry)}")
    page.get_by_role("button", name="Kill").click()
    page.wait_for_url("**/retries")
    assert redis_client.zcard("retry") == 0
    assert redis_client.zscore("dead", retry[2]) is not None


def test_add_to_queue_button(opened, seed, redis_client: redis.Redis) -> None:
    page, _ = opened
    scheduled = seed.scheduled(queue="later")
    page.goto(f"/scheduled/{_key(scheduled)}")
    page.get_by_role("button", name="Add to Queue").click()
    page.wait_for_url("**/scheduled")
    assert redis_client.zcard("schedule") == 0
    assert redis_client.llen("queue:later") == 1


def test_clear_queue_button(opened, seed, redis_client: redis.Redis) -> None:
    page, watch = opened
    seed.enqueue(queue="mailers")
    seed.enqueue(queue="mailers")
    seed.enqueue(queue="default")
    page.goto("/queues")
    page.locator("tr", has_text="mailers").get_by_role("button", name="Clear").click()
    page.wait_for_load_state("load")
    _wait_for(lambda: redis_client.llen("queue:mailers") == 0, "the queue to be cleared")
    assert watch.dialogs == [("confirm", "Delete all 2 jobs in queue mailers?")]
    assert redis_client.llen("queue:default") == 1


def test_quiet_button(opened, seed, redis_client: redis.Redis) -> None:
    page, _ = opened
    identity = seed.process()
    page.goto("/busy")
    page.get_by_role("button", name="Quiet", exact=True).click()
    page.wait_for_url("**/busy")
    assert redis_client.lrange(f"{identity}-signals", 0, -1) == [b"TSTP"]


def test_select_all_then_delete(opened, seed, redis_client: redis.Redis) -> None:
    page, _ = opened
    for _ in range(3):
        seed.dead()
    page.goto("/morgue")
    page.locator("input[data-select-all]").check()
    assert page.locator("input[name=key]:checked").count() == 3
    page.locator(".selected-actions").get_by_role("button", name="Delete").click()
    page.wait_for_url("**/morgue")
    assert redis_client.zcard("dead") == 0


def test_select_some_then_retry(opened, seed, redis_client: redis.Redis) -> None:
    page, _ = opened
    now = time.time()
    entries = [seed.retry(score=now + 100 + index) for index in range(3)]
    page.goto("/retries")
    page.locator("input[name=key]").nth(0).check()
    page.locator("input[name=key]").nth(2).check()
    page.locator(".selected-actions").get_by_role("button", name="Retry Now").click()
    page.wait_for_url("**/retries")
    assert redis_client.zrange("retry", 0, -1) == [entries[1][2]]
    assert redis_client.llen("queue:default") == 2


def test_retry_all_button(opened, seed, redis_client: redis.Redis) -> None:
    page, _ = opened
    for _ in range(120):
        seed.retry()
    page.goto("/retries")
    page.get_by_role("button", name="Retry All").click()
    page.wait_for_url("**/retries")
    assert redis_client.zcard("retry") == 0
    assert redis_client.llen("queue:default") == 120


def test_live_poll_shows_new_jobs(opened, seed) -> None:
    page, watch = opened
    page.add_init_script("localStorage.setItem('roadie.pollInterval', '2000')")
    seed.enqueue(args=["first-job"])
    page.goto("/queues/default")
    page.get_by_role("button", name="Live poll").click()
    assert page.get_by_role("button", name="Live poll").get_attribute("aria-pressed") == "true"
    seed.enqueue(args=["arrived-later"])
    page.locator("#page", has_text="arrived-later").wait_for()
    assert watch.problems() == []


# ---------------------------------------------------------------------- XSS


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-alone"])
def test_xss_corpus_never_runs(browser, live_server, seed, redis_client, xss_corpus, bypass_csp: bool) -> None:
    details = []
    for index, item in enumerate(xss_corpus):
        fields = {"job_class": item, "args": [item], "tags": [item], "error_message": item, "error_class": item,
                  item: item}
        details.append(f"/retries/{_key(seed.retry(score=1800000000.0 + index, **fields))}")
        details.append(f"/morgue/{_key(seed.dead(score=1700000000.0 + index, **fields))}")
        details.append(f"/scheduled/{_key(seed.scheduled(queue=item, job_class=item, args=[item]))}")
        seed.enqueue(job_class=item, args=[item], tags=[item])
        redis_client.sadd("queues", item)
        seed.process(tag=item, labels=[item], running=[seed.job(job_class=item, args=[item], queue=item)])

    context, page, watch = _open_page(browser, live_server.url, bypass_csp=bypass_csp)
    # Any payload that runs calls one of these.
    page.add_init_script("""
        window.__xss = [];
        for (const name of ["alert", "prompt", "print"]) {
          const original = window[name];
          window[name] = function (...args) { window.__xss.push(name + ":" + args.join(",")); };
        }
    """)
    try:
        paths = ["/", "/busy", "/queues", "/queues/default", "/retries", "/scheduled", "/morgue",
                 "/retries?substr=" + quote(xss_corpus[0]), *details]
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("load")
            # Payloads such as onmouseover need a pointer over the data to run.
            for cell in page.locator("td.data, code.args, dd.data, pre.data").all()[:3]:
                cell.hover(timeout=2000)
            assert page.evaluate("window.__xss") == [], path
        assert [dialog for dialog in watch.dialogs if dialog[0] != "confirm"] == []
        assert watch.page_errors == []
    finally:
        context.close()


# -------------------------------------------------------------- screenshots


def _seed_showcase(seed, redis_client: redis.Redis) -> tuple[float, str, bytes]:
    """Write plausible data for the documentation screenshots; return the retry shown in detail."""
    today = dt.datetime.now(dt.timezone.utc).date()
    for offset in range(30):
        day = today - dt.timedelta(days=offset)
        processed = 42_000 + (offset * 7919) % 13_000 - (3_000 if day.weekday() >= 5 else 0)
        redis_client.set(f"stat:processed:{day.isoformat()}", processed)
        redis_client.set(f"stat:failed:{day.isoformat()}", 120 + (offset * 131) % 400)
    redis_client.set("stat:processed", 12_845_392)
    redis_client.set("stat:failed", 18_204)

    jobs = [("InvoiceMailer", ["inv_20931", "en"]), ("ImageResizer", ["uploads/7f3a/cover.jpg", 1200]),
            ("SyncInventory", [{"warehouse": "ams-2", "full": False}]), ("WebhookDelivery", [88123, 3]),
            ("ReportBuilder", ["weekly", "2024-W18"])]
    for index in range(140):
        job_class, args = jobs[index % len(jobs)]
        seed.enqueue(job_class=job_class, args=args, queue=("default", "mailers", "critical", "low")[index % 4])
    seed.process("web-7f9c:3412:2f5e0c9a1b7d", tag="shop", labels=["reliable", "eu-west"],
                 weights={"critical": 3, "default": 2, "mailers": 1}, concurrency=10,
                 running=[seed.job(job_class=name, args=args, queue="default") for name, args in jobs[:4]])
    seed.process("web-7f9c:3413:91c0d2e4f6a8", tag="shop", labels=["reliable", "eu-west"],
                 weights={"critical": 3, "default": 2, "mailers": 1}, concurrency=10,
                 running=[seed.job(job_class=name, args=args, queue="mailers") for name, args in jobs[2:]])
    seed.process("batch-01:881:7a6b5c4d3e2f", tag="reports", labels=["nightly"], weights={"low": 1},
                 concurrency=4, quiet=True)

    now = time.time()
    errors = [("Net::ReadTimeout", "upstream timed out after 30 s"),
              ("ConnectionError", "Error 111 connecting to payments.internal:443. Connection refused."),
              ("ValueError", "image is truncated: expected 48211 bytes, got 1024")]
    shown = None
    for index in range(12):
        job_class, args = jobs[index % len(jobs)]
        error_class, message = errors[index % len(errors)]
        entry = seed.retry(score=now + 60 * (index + 1) ** 2, job_class=job_class, args=args, error_class=error_class,
                           error_message=message, retry_count=index % 6, queue="default", tags=["billing"][: index % 2],
                           trace_id=f"4bf92f3577b34da6a3ce929d0e0e{index:04x}",
                           error_backtrace=payload.encode_backtrace([
                               "app/jobs/webhook_delivery.py:48:in `perform'",
                               "app/clients/http.py:112:in `post'",
                               "lib/roadie/worker/processor.py:201:in `run'",
                           ]))
        if index == 1:
            shown = entry
        seed.dead(score=now - 3600 * (index + 1), job_class=job_class, args=args, error_class=error_class,
                  error_message=message, retry_count=25)
    for index in range(6):
        job_class, args = jobs[index % len(jobs)]
        seed.scheduled(score=now + 900 * (index + 1), job_class=job_class, args=args)
    assert shown is not None
    return shown


def _counter_ticker(redis_client: redis.Redis, stop: threading.Event) -> None:
    """Raise the counters while the realtime chart samples them, so the chart has a shape."""
    step = 0
    while not stop.wait(0.25):
        step += 1
        redis_client.incrby("stat:processed", 40 + (step * 37) % 90)
        if step % 3 == 0:
            redis_client.incrby("stat:failed", step % 7)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_main_pages(browser, live_server, seed, redis_client, tmp_path, scheme: str) -> None:
    retry = _seed_showcase(seed, redis_client)
    folder = DOCS_IMAGES if os.environ.get("UPDATE_SCREENSHOTS") == "1" and scheme == "light" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    context, page, watch = _open_page(browser, live_server.url, color_scheme=scheme,
                                      viewport={"width": 1280, "height": 860})
    stop = threading.Event()
    ticker = threading.Thread(target=_counter_ticker, args=(redis_client, stop), daemon=True)
    try:
        page.add_init_script("localStorage.setItem('roadie.pollInterval', '2000')")
        page.goto("/")
        ticker.start()
        _wait_until(page, "Chart.getChart(document.getElementById('realtime-chart')).data.labels.length >= 6", 30)
        stop.set()
        page.screenshot(path=str(folder / "dashboard.png"), full_page=True)
        for name, path in [("busy", "/busy"), ("retries", "/retries"), ("retry-detail", f"/retries/{_key(retry)}")]:
            page.goto(path)
            page.wait_for_load_state("load")
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto("/retries")
        page.screenshot(path=str(tmp_path / "retries-phone.png"), full_page=True)
        assert watch.problems() == []
        for name in ("dashboard", "busy", "retries", "retry-detail"):
            assert (folder / f"{name}.png").stat().st_size > 10_000, name
    finally:
        stop.set()
        context.close()
