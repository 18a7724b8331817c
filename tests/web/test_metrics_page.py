"""The metrics pages: jobs by run time, the period and filter parameters, one job's histogram."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
import redis

import roadie
from roadie.storage.keys import Keys
from roadie.worker import metrics as worker_metrics

# Tags the metrics templates never write; one in a page means markup came from a job name.
FOREIGN_TAGS = {"img", "svg", "iframe", "b", "textarea", "object", "embed", "style", "math"}


@roadie.job(name="MetricsPage.Resize")
def resize(width: int) -> None:
    if width < 0:
        raise ValueError("negative width")


@roadie.job(name="MetricsPage.Notify", retry=False)
def notify(user: str) -> None:
    if user == "nobody":
        raise LookupError("no such user")


def flush(connection: redis.Redis, runs: list[tuple[str, float, bool]], minutes_ago: float = 0) -> None:
    """Record ``(name, seconds, failed)`` runs as a worker's heartbeat does, ``minutes_ago`` before now."""
    recorder = worker_metrics.Metrics()
    for name, seconds, failed in runs:
        recorder.track(name, seconds, failed)
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    recorder.flush(connection, Keys(), moment)


def chart_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="metrics-data">(.*?)</script>', html, re.DOTALL)
    assert match is not None, "page has no chart data"
    return json.loads(match.group(1))


def table_rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str, where: str, corpus: list[str]) -> None:
    for item in corpus:
        if set("<>\"'") & set(item):
            assert item not in html, f"{where}: unescaped payload {item!r}"
    collector = TagCollector()
    collector.feed(html)
    for tag, attrs in collector.tags:
        assert tag not in FOREIGN_TAGS, f"{where}: <{tag}> from a job name"
        assert not any(name.startswith("on") for name in attrs), f"{where}: event handler on <{tag}>"
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/static/") or attrs.get("type") == "application/json", where
        href = (attrs.get("href") or "").strip().lower()
        assert not href.startswith(("javascript:", "data:")), f"{where}: href={href!r}"


@pytest.fixture
def seeded(redis_client: redis.Redis) -> None:
    flush(redis_client, [("Report", 2.0, False), ("Report", 4.0, False), ("Mailer", 0.05, False),
                         ("Mailer", 0.01, True)])
    flush(redis_client, [("Mailer", 0.1, False)], minutes_ago=30)
    flush(redis_client, [("Cleanup", 600.0, False)], minutes_ago=20 * 60)


# ------------------------------------------------------------------ /metrics


def test_metrics_lists_jobs_by_time(dashboard, seeded) -> None:
    response = dashboard.get("/metrics")
    assert response.status_code == 200
    rows = table_rows(response.text)
    assert len(rows) == 2
    assert 'href="/metrics/Report?period=1h"' in rows[0]
    assert 'href="/metrics/Mailer?period=1h"' in rows[1]


def test_metrics_row_shows_counters(dashboard, seeded) -> None:
    rows = table_rows(dashboard.get("/metrics").text)
    cells = re.findall(r'<td class="num">([^<]*)</td>', rows[1])
    assert cells == ["3", "1", "0.15 s", "0.075 s"]


def test_metrics_chart_has_runs_series(dashboard, seeded) -> None:
    data = chart_data(dashboard.get("/metrics").text)
    assert len(data["labels"]) == 60
    assert [line["label"] for line in data["lines"]] == ["Report", "Mailer"]
    assert sum(data["lines"][1]["data"]) == 3


def test_metrics_24h_reads_rollups(dashboard, seeded) -> None:
    response = dashboard.get("/metrics", params={"period": "24h"})
    assert response.status_code == 200
    assert len(chart_data(response.text)["labels"]) == 144
    assert 'href="/metrics/Cleanup?period=24h"' in table_rows(response.text)[0]
    assert 'href="/metrics?period=24h" aria-current="page"' in response.text


def test_metrics_empty_says_so(dashboard) -> None:
    response = dashboard.get("/metrics")
    assert response.status_code == 200
    assert "No job ran in the last 1h" in response.text
    assert 'id="metrics-chart"' not in response.text


@pytest.mark.parametrize("period", ["3h", "1H", "24", "0", "1h ", "<b>1h</b>"])
def test_metrics_bad_period_400(dashboard, period: str) -> None:
    response = dashboard.get("/metrics", params={"period": period})
    assert response.status_code == 400


def test_metrics_filter_matches_substring(dashboard, seeded) -> None:
    response = dashboard.get("/metrics", params={"substr": "mail"})
    rows = table_rows(response.text)
    assert len(rows) == 1
    assert "Mailer" in rows[0]


def test_metrics_filter_keeps_period(dashboard, seeded) -> None:
    html = dashboard.get("/metrics", params={"substr": "clean", "period": "24h"}).text
    assert '<input type="hidden" name="period" value="24h">' in html
    (link,) = re.findall(r'href="(/metrics\?[^"]*period=4h[^"]*)"', html)
    assert "substr=clean" in link
    assert len(table_rows(html)) == 1


def test_metrics_long_filter_400(dashboard) -> None:
    assert dashboard.get("/metrics", params={"substr": "x" * 201}).status_code == 400


def test_metrics_filter_reflected_escaped(dashboard, xss_corpus) -> None:
    for item in xss_corpus:
        response = dashboard.get("/metrics", params={"substr": item})
        assert response.status_code == 200, item
        assert_inert(response.text, f"/metrics?substr={item!r}", xss_corpus)


def test_metrics_job_names_escaped(dashboard, redis_client: redis.Redis, xss_corpus) -> None:
    flush(redis_client, [(item, 0.5 + index, False) for index, item in enumerate(xss_corpus)])
    html = dashboard.get("/metrics").text
    assert_inert(html, "/metrics", xss_corpus)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(table_rows(html)) == len(xss_corpus)


def test_metrics_hidden_characters_not_linked(dashboard, redis_client: redis.Redis) -> None:
    flush(redis_client, [("\u202eevil", 1.0, False)])
    html = dashboard.get("/metrics").text
    assert "\\u{202e}evil" in html
    assert "/metrics/%E2%80%AEevil" not in html


# ------------------------------------------------------------ /metrics/<name>


def test_job_page_shows_histogram(dashboard, seeded) -> None:
    response = dashboard.get("/metrics/Mailer")
    assert response.status_code == 200
    assert 'id="histogram-chart"' in response.text
    histogram = chart_data(response.text)["histogram"]
    assert len(histogram["labels"]) == 26
    assert histogram["labels"][0] == "< 20 ms"
    assert histogram["labels"][-1] == "≥ 335 s"
    assert histogram["data"][0] == 1
    assert histogram["data"][3] == 1
    assert histogram["data"][5] == 1


def test_job_page_shows_series(dashboard, seeded) -> None:
    data = chart_data(dashboard.get("/metrics/Mailer").text)
    runs, failures = data["lines"]
    assert sum(runs["data"]) == 3
    assert sum(failures["data"]) == 1
    assert max(runs["data"]) == 2


def test_job_page_shows_totals(dashboard, seeded) -> None:
    html = dashboard.get("/metrics/Report").text
    assert "<dt>Runs</dt><dd>2</dd>" in html
    assert "<dt>Average time</dt><dd>3.000 s</dd>" in html


def test_job_page_24h_no_histogram(dashboard, seeded) -> None:
    response = dashboard.get("/metrics/Cleanup", params={"period": "24h"})
    assert response.status_code == 200
    assert 'id="histogram-chart"' not in response.text
    assert "histograms are kept 8 hours" in response.text
    assert chart_data(response.text)["histogram"] is None


def test_job_page_bad_period_400(dashboard) -> None:
    assert dashboard.get("/metrics/Mailer", params={"period": "12h"}).status_code == 400


def test_job_page_empty_name_404(dashboard) -> None:
    assert dashboard.get("/metrics/").status_code == 404


def test_job_page_long_name_404(dashboard) -> None:
    assert dashboard.get("/metrics/" + "x" * 501).status_code == 404
    assert dashboard.get("/metrics/" + "x" * 500).status_code == 200


def test_job_page_control_character_404(dashboard) -> None:
    assert dashboard.get("/metrics/" + quote("a\u0000b", safe="")).status_code == 404


def test_job_page_reserved_characters_in_name(dashboard, redis_client: redis.Redis) -> None:
    flush(redis_client, [("reports/daily?x#y", 0.3, False)])
    html = dashboard.get("/metrics").text
    link = "/metrics/reports%2Fdaily%3Fx%23y"
    assert f'href="{link}?period=1h"' in html
    response = dashboard.get(link)
    assert response.status_code == 200
    assert "<dt>Runs</dt><dd>1</dd>" in response.text
    assert f'href="{link}?period=2h"' in response.text


def test_job_page_names_escaped(dashboard, redis_client: redis.Redis, xss_corpus) -> None:
    flush(redis_client, [(item, 0.2, False) for item in xss_corpus])
    for item in xss_corpus:
        response = dashboard.get("/metrics/" + quote(item, safe=""))
        if not item.isprintable():
            assert response.status_code == 404, item
        else:
            assert response.status_code == 200, item
            assert "<dt>Runs</dt><dd>1</dd>" in response.text, item
        assert_inert(response.text, f"/metrics/{item!r}", xss_corpus)


def test_job_page_has_no_inline_script(dashboard, seeded) -> None:
    html = dashboard.get("/metrics/Mailer").text
    inline = re.findall(r"<script(?![^>]*\ssrc=)(?![^>]*application/json)[^>]*>", html)
    assert inline == []


# ------------------------------------------------------------------ end to end


def test_burst_worker_runs_listed(dashboard, redis_url: str, run_burst) -> None:
    with roadie.Client(redis_url) as client:
        resize.set(client=client).perform_async(640)
        resize.set(client=client).perform_async(800)
        notify.set(client=client).perform_async("ana")
        notify.set(client=client).perform_async("nobody")

    run_burst()

    rows = table_rows(dashboard.get("/metrics").text)
    by_name = {re.search(r'<span class="job data">([^<]*)</span>', row).group(1): row for row in rows}
    assert set(by_name) == {"MetricsPage.Resize", "MetricsPage.Notify"}
    assert re.findall(r'<td class="num">([^<]*)</td>', by_name["MetricsPage.Resize"])[:2] == ["2", "0"]
    assert re.findall(r'<td class="num">([^<]*)</td>', by_name["MetricsPage.Notify"])[:2] == ["2", "1"]


# ------------------------------------------------------------------ browser


def _wait_for_chart(page, canvas_id: str) -> None:
    """Poll until Chart.js has drawn on ``canvas_id``, with page.evaluate because the CSP forbids eval."""
    expression = f"typeof Chart !== 'undefined' && Chart.getChart(document.getElementById('{canvas_id}')) !== undefined"
    deadline = time.monotonic() + 10
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"no chart drawn on #{canvas_id}"
        time.sleep(0.05)


def test_browser_draws_metrics_charts(browser, live_server, seeded) -> None:
    problems: list[str] = []
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))

        page.goto("/metrics")
        _wait_for_chart(page, "metrics-chart")
        lines = page.evaluate("Chart.getChart(document.getElementById('metrics-chart')).data.datasets.length")
        assert lines == 2

        page.goto("/metrics/Mailer")
        _wait_for_chart(page, "histogram-chart")
        _wait_for_chart(page, "metrics-chart")
        bars = page.evaluate("Chart.getChart(document.getElementById('histogram-chart')).data.datasets[0].data")
        assert sum(bars) == 3
        assert problems == []
    finally:
        context.close()
