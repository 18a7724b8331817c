"""The jobs that ``roadie demo`` enqueues, and the local product site they download.

The demo's worker imports this module with ``-r roadie.cli.demo_jobs``. Each
job appends one line to ``report.txt`` in the folder named by the
``DEMO_OUTPUT_DIR`` environment variable, which the demo sets for its worker.
The variable has no ``ROADIE_`` prefix because roadie rejects unknown
``ROADIE_*`` variables as misspelled settings.

The site's HTML and the patterns that parse it live together here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.server
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import roadie

__all__ = [
    "ATTEMPTS_FILE",
    "OUTPUT_DIR_ENV_VAR",
    "PRODUCTS",
    "REPORT_FILE",
    "checksum_pages",
    "fetch_page",
    "flaky_job",
    "product_site",
    "scheduled_job",
    "write_summary",
]

OUTPUT_DIR_ENV_VAR = "DEMO_OUTPUT_DIR"
REPORT_FILE = "report.txt"
ATTEMPTS_FILE = "flaky-attempts.txt"

# demo.FlakyJob raises Retry on this many attempts before it succeeds.
FLAKY_FAILURES = 2

_HTTP_TIMEOUT = 10.0
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_PRICE = re.compile(r'class="price">([^<]*)<')
_report_lock = threading.Lock()


def output_dir() -> Path:
    """Return the demo's output folder, from the environment variable the demo sets."""
    folder = os.environ.get(OUTPUT_DIR_ENV_VAR)
    if not folder:
        raise RuntimeError(f"{OUTPUT_DIR_ENV_VAR} is not set; run these jobs through `roadie demo`")
    return Path(folder)


def append_report(line: str) -> None:
    """Append one line to report.txt. Jobs run on several threads, so writes are serialized."""
    with _report_lock, open(output_dir() / REPORT_FILE, "a", encoding="utf-8") as report:
        report.write(line + "\n")


# ------------------------------------------------------------ the product site

PRODUCTS = (
    ("Desk lamp", "24.00"),
    ("Notebook, dotted", "6.50"),
    ("Fountain pen", "38.00"),
    ("Bookend pair", "17.25"),
    ("Cable organizer", "9.90"),
)


class _ProductPages(http.server.BaseHTTPRequestHandler):
    """Serves ``/products/<n>`` for each entry of PRODUCTS, numbered from 1."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        number = self.path.removeprefix("/products/")
        if not number.isdigit() or not 1 <= int(number) <= len(PRODUCTS):
            self.send_error(404)
            return
        name, price = PRODUCTS[int(number) - 1]
        body = (
            f"<!doctype html><html><head><title>{name}</title></head>"
            f'<body><h1>{name}</h1><p class="price">${price}</p></body></html>'
        ).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's parameter name
        pass


class _ProductSite(http.server.ThreadingHTTPServer):
    # The default listen backlog of 5 is too short for the 10 connections the
    # jobs open at once, and the extra ones wait for a SYN retransmission
    # (1 s on Linux).
    request_queue_size = 64


@contextlib.contextmanager
def product_site() -> Iterator[list[str]]:
    """Serve the product pages on a free port of 127.0.0.1 and yield their URLs."""
    server = _ProductSite(("127.0.0.1", 0), _ProductPages)
    thread = threading.Thread(target=server.serve_forever, name="roadie-demo-http", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    urls = [f"http://{host}:{port}/products/{number}" for number in range(1, len(PRODUCTS) + 1)]
    try:
        yield urls
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ---------------------------------------------------------------------- jobs


@roadie.job(name="demo.FetchPage")
def fetch_page(url: str) -> None:
    """Download a product page and report its title, price and size."""
    with urllib.request.urlopen(url, timeout=_HTTP_TIMEOUT) as response:
        body = response.read().decode("utf-8")
    title = _TITLE.search(body)
    price = _PRICE.search(body)
    path = urllib.parse.urlsplit(url).path
    append_report(
        f"fetch      {path}  {title.group(1) if title else '(no title)'}  "
        f"{price.group(1) if price else '(no price)'}  {len(body)} bytes"
    )


@roadie.job(name="demo.FlakyJob", retry=3)
def flaky_job() -> None:
    """Fail the first two attempts with Retry(in_=1), then succeed.

    The function cannot see the job's retry_count, so it counts its attempts
    in a file. Only one copy of this job exists, so no lock is needed.
    """
    attempts_path = output_dir() / ATTEMPTS_FILE
    attempt = int(attempts_path.read_text()) + 1 if attempts_path.exists() else 1
    attempts_path.write_text(str(attempt))
    if attempt <= FLAKY_FAILURES:
        raise roadie.Retry(in_=1, message=f"attempt {attempt} fails on purpose")
    append_report(f"retry      succeeded on attempt {attempt}, after {FLAKY_FAILURES} retries")


@roadie.job(name="demo.ScheduledJob")
def scheduled_job(enqueued_at: float, delay: float) -> None:
    """Report how long after its enqueue this scheduled job ran."""
    waited = time.time() - enqueued_at
    append_report(f"scheduled  ran {waited:.1f} s after perform_in({delay:g})")


@roadie.job(name="demo.ChecksumPages")
async def checksum_pages(urls: list[str]) -> None:
    """Download every page at once on the worker's event loop and report one SHA-256 over them."""
    bodies = await asyncio.gather(*(_http_get(url) for url in urls))
    digest = hashlib.sha256(b"".join(bodies)).hexdigest()
    size = sum(len(body) for body in bodies)
    append_report(f"async      fetched {len(urls)} pages concurrently, {size} bytes, sha256 {digest[:16]}")


@roadie.job(name="demo.WriteSummary")
def write_summary() -> None:
    """Add a closing line with the page count and total size from the fetch lines."""
    lines = (output_dir() / REPORT_FILE).read_text(encoding="utf-8").splitlines()
    sizes = [int(line.split()[-2]) for line in lines if line.startswith("fetch ")]
    append_report(f"summary    {len(sizes)} pages fetched, {sum(sizes)} bytes in all")


async def _http_get(url: str) -> bytes:
    """Return the body of an HTTP/1.0 GET, written with asyncio streams instead of a client library."""
    parts = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(parts.hostname, parts.port or 80), _HTTP_TIMEOUT
    )
    try:
        request = f"GET {parts.path or '/'} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n"
        writer.write(request.encode("ascii"))
        await writer.drain()
        # HTTP/1.0: the server closes the connection after the body.
        response = await asyncio.wait_for(reader.read(), _HTTP_TIMEOUT)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split()
    if len(fields) < 2 or fields[1] != "200":
        raise RuntimeError(f"GET {url} failed: {status_line!r}")
    return body
