"""Job data carrying XSS payloads is escaped on every page that shows it."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

import pytest
import redis
from markupsafe import escape

from roadie.web.render import visible

# A payload with none of these (only "&") is the escaped form of another; its own test covers it.
DANGEROUS_CHARACTERS = set("<>\"'")
# Tags the templates never write; one in a page means markup came from data.
FOREIGN_TAGS = {"img", "svg", "iframe", "b", "textarea", "object", "embed", "style", "math"}


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(html: str, where: str, corpus: list[str]) -> None:
    """Fail if the page contains a payload unescaped or any markup that did not come from the templates."""
    for item in corpus:
        if DANGEROUS_CHARACTERS & set(item):
            assert item not in html, f"{where}: unescaped payload {item!r}"
    collector = TagCollector()
    collector.feed(html)
    # An attribute value (a form field echoing the filter) is isolated; page text must not be reordered.
    assert "\u202e" not in "".join(collector.text), f"{where}: raw right-to-left override in text"
    for tag, attrs in collector.tags:
        assert tag not in FOREIGN_TAGS, f"{where}: <{tag}> from data"
        assert not any(name.startswith("on") for name in attrs), f"{where}: event handler on <{tag}>"
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/static/") or attrs.get("type") == "application/json", where
        for name in ("href", "src", "action", "formaction"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), f"{where}: {name}={value!r}"


@pytest.fixture
def hostile(seed, redis_client: redis.Redis, xss_corpus: list[str]) -> dict[str, list[str]]:
    """Put every payload in class, args, error message, tags, queue keys, unknown keys and process fields."""
    details: list[str] = []
    for index, item in enumerate(xss_corpus):
        fields = {
            "job_class": item, "args": [item, {item: item}], "tags": [item], "error_message": item,
            "error_class": item, "display_class": item, item: item, "wrapped": item,
        }
        score, jid, _ = seed.retry(score=1800000000.0 + index, **fields)
        details.append(f"/retries/{quote(f'{score!r}-{jid}', safe='')}")
        score, jid, _ = seed.dead(score=1700000000.0 + index, **fields)
        details.append(f"/morgue/{quote(f'{score!r}-{jid}', safe='')}")
        score, jid, _ = seed.scheduled(score=1900000000.0 + index, queue=item, job_class=item, args=[item])
        details.append(f"/scheduled/{quote(f'{score!r}-{jid}', safe='')}")
        seed.enqueue(job_class=item, args=[item], tags=[item], kwargs={"note": item})
        redis_client.sadd("queues", item)
        seed.process(tag=item, labels=[item], weights={item: 1},
                     running=[seed.job(job_class=item, args=[item], queue=item)])
    return {"details": details}


def test_payloads_escaped_on_every_page(dashboard, hostile, xss_corpus) -> None:
    pages = ["/", "/busy", "/queues", "/queues/default", "/retries", "/scheduled", "/morgue", "/stats",
             "/retries?count=100", "/morgue?count=100"]
    for path in pages + hostile["details"]:
        response = dashboard.get(path)
        assert response.status_code == 200, path
        assert_inert(response.text, path, xss_corpus)


def test_escaped_payload_text_present(dashboard, hostile, xss_corpus) -> None:
    html = dashboard.get(hostile["details"][0]).text
    expected_text = str(escape(visible(xss_corpus[0])))
    assert expected_text in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_pre_escaped_payload_escaped_again(dashboard, hostile, xss_corpus) -> None:
    index = xss_corpus.index("&lt;script&gt;alert(1)&lt;/script&gt;")
    html = dashboard.get(hostile["details"][3 * index]).text
    assert "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;" in html


def test_bidi_override_made_visible(dashboard, hostile, xss_corpus) -> None:
    index = xss_corpus.index("\u202e<b>exe.gnp</b>")
    html = dashboard.get(hostile["details"][3 * index]).text
    assert "\\u{202e}&lt;b&gt;exe.gnp&lt;/b&gt;" in html


def test_nul_byte_made_visible(dashboard, hostile, xss_corpus) -> None:
    index = xss_corpus.index("\u0000<script>alert(1)</script>")
    html = dashboard.get(hostile["details"][3 * index]).text
    assert "\\u{0000}&lt;script&gt;" in html
    assert "\x00" not in html


def test_invalid_queue_names_not_linked(dashboard, hostile) -> None:
    html = dashboard.get("/queues").text
    assert 'href="/queues/%3Cscript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_reflected_parameters_escaped(dashboard, xss_corpus) -> None:
    for item in xss_corpus:
        for path, params in [("/", {"days": item}), ("/retries", {"substr": item}), ("/morgue", {"substr": item}),
                             ("/queues/default", {"direction": item}), ("/busy", {"page": item})]:
            response = dashboard.get(path, params=params)
            assert_inert(response.text, f"{path}?{params}", xss_corpus)


def test_payload_in_path_escaped(dashboard, xss_corpus) -> None:
    for item in xss_corpus:
        for prefix in ("/queues/", "/retries/", "/morgue/1700000000.0-"):
            response = dashboard.get(prefix + quote(item, safe=""))
            assert response.status_code == 404, prefix + item
            assert_inert(response.text, prefix + item, xss_corpus)
