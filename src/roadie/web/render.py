"""Templates, the filters they use, and the page response.

Autoescaping is on for every template, and no filter returns markup: every
value from a job, queue or process reaches the page escaped. The ``visible``
filter also spells out control and invisible formatting characters (such as
right-to-left overrides) so job data cannot disguise itself.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from roadie._time import now
from roadie._version import __version__
from roadie.api import JobRecord
from roadie.config import validate_queue_name
from roadie.web.params import entry_key_text, is_metrics_job_name
from roadie.web.security import CSRF_COOKIE, SCOPE_KEY, csrf_token_for

if TYPE_CHECKING:
    from roadie.web.app import Dashboard

__all__ = ["FLASH_COOKIE", "base_path", "build_environment", "redirect", "render"]

FLASH_COOKIE = "roadie_flash"
# Query parameters that links to other pages of the same list carry over; others are dropped.
LINK_PARAMETERS = frozenset({"page", "count", "days", "substr", "after", "direction", "period"})
# Characters of args and error messages shown in a list row; Sidekiq cuts at the same length.
ARGS_DISPLAY_CHARS = 2000
MESSAGE_DISPLAY_CHARS = 200
# JSON longer than this is indented on the detail page; shorter JSON stays on one line.
PRETTY_JSON_AFTER_CHARS = 80

# C0 and C1 controls (but tab and newline), soft hyphen, the Arabic letter
# mark, zero-width characters, bidirectional marks, embeddings, overrides and
# isolates, invisible operators, the byte order mark, interlinear annotation
# characters and the tag characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


# ------------------------------------------------------------------ filters


def visible(value: object) -> str:
    """Return ``value`` as text with invisible and control characters written as ``\\u{XXXX}``."""
    text = value if isinstance(value, str) else str(value)
    return _INVISIBLE.sub(lambda match: f"\\u{{{ord(match.group()):04x}}}", text)


def shorten(value: object, limit: int) -> str:
    text = visible(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field(value: object, limit: int = 1000) -> str:
    """Return a job-hash value for display: text as it is, anything else as JSON, cut at ``limit``."""
    return shorten(value if isinstance(value, str) else json_text(value), limit)


def number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _as_datetime(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def exact_time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return _as_datetime(epoch).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return _as_datetime(epoch).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def relative_time(epoch: float | None, reference: float | None = None) -> str:
    """Return "3 minutes ago" or "in 2 hours" for ``epoch``; the browser keeps it current."""
    if epoch is None:
        return ""
    delta = epoch - (now() if reference is None else reference)
    seconds = abs(delta)
    if seconds < 10:
        return "just now"
    for size, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "hour"),
                       (60, "minute"), (1, "second")):
        if seconds >= size:
            amount = int(seconds // size)
            phrase = f"{amount} {unit}{'' if amount == 1 else 's'}"
            return f"in {phrase}" if delta > 0 else f"{phrase} ago"
    return "just now"


def duration(seconds: float | None) -> str:
    """Return a latency as "0 s", "4.2 s", "12 min" or "3.5 h"."""
    if seconds is None or seconds <= 0:
        return "0 s"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def kilobytes(value: int | None) -> str:
    """Return a size given in KB (as processes report RSS) as "512 KB", "12.3 MB" or "1.2 GB"."""
    if not value:
        return "0"
    if value < 1024:
        return f"{value} KB"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} MB"
    return f"{value / 1024 / 1024:.1f} GB"


def json_text(value: Any, indent: bool = False) -> str:
    """Return ``value`` as JSON for reading: spaces after commas and colons, indented when ``indent`` and long."""
    try:
        compact = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=repr)
    except (TypeError, ValueError):
        return repr(value)
    if indent and len(compact) > PRETTY_JSON_AFTER_CHARS:
        return json.dumps(value, ensure_ascii=False, indent=2, default=repr)
    return compact


def display_args(record: JobRecord) -> str:
    """Return a job's arguments as one line of JSON values, keyword arguments as ``name=value``."""
    if not record.valid:
        return shorten(record.args[0] if record.args else "", ARGS_DISPLAY_CHARS)
    parts = [json_text(arg) for arg in record.args]
    parts.extend(f"{name}={json_text(value)}" for name, value in record.kwargs.items())
    return shorten(", ".join(parts), ARGS_DISPLAY_CHARS)


def is_queue_name(value: object) -> bool:
    try:
        validate_queue_name(value)
    except ValueError:
        return False
    return True


def url_segment(value: object) -> str:
    """Quote ``value`` for use as one path segment of a link."""
    return quote(str(value), safe="")


# ------------------------------------------------------------ environment


def build_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("roadie.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update({
        "visible": visible,
        "shorten": shorten,
        "field": field,
        "number": number,
        "exact_time": exact_time,
        "iso_time": iso_time,
        "relative_time": relative_time,
        "duration": duration,
        "kilobytes": kilobytes,
        "json_text": json_text,
        "url_segment": url_segment,
    })
    environment.globals.update({
        "display_args": display_args,
        "entry_key": lambda entry: entry_key_text(entry.score, entry.jid),
        "is_queue_name": is_queue_name,
        "is_metrics_job_name": is_metrics_job_name,
        "version": __version__,
        "MESSAGE_DISPLAY_CHARS": MESSAGE_DISPLAY_CHARS,
    })
    return environment


def base_path(request: Request) -> str:
    """Return the prefix of every link: the configured root path plus where the app is mounted."""
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard.root_path + request.scope.get("root_path", "")


def _page_link(request: Request, **changes: Any) -> str:
    """Return this page's path and query with ``changes`` applied (None removes a parameter)."""
    params = {name: value for name, value in request.query_params.items() if name in LINK_PARAMETERS}
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = str(value)
    path = base_path(request) + _route_path(request)
    return f"{path}?{urlencode(params)}" if params else path


def _route_path(request: Request) -> str:
    path: str = request.scope["path"]
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path or "/"


def render(request: Request, template: str, context: Mapping[str, Any], *, status: int = 200) -> HTMLResponse:
    """Render ``template`` with the context every page shares; set the CSRF and flash cookies."""
    dashboard: Dashboard = request.app.state.dashboard
    base = base_path(request)
    token, new_token = csrf_token_for(request, dashboard.secret)
    flash = unquote(request.cookies.get(FLASH_COOKIE, ""))
    shared = {
        "request": request,
        "base": base,
        "nonce": request.scope[SCOPE_KEY]["nonce"],
        "csrf_token": token,
        "read_only": dashboard.read_only,
        "flash": flash[:300] if flash else None,
        "redis_location": dashboard.location(),
        "now": now(),
        "page_link": lambda **changes: _page_link(request, **changes),
    }
    html = dashboard.templates.get_template(template).render({**shared, **context})
    response = HTMLResponse(html, status_code=status)
    cookie_path = base or "/"
    secure = request.url.scheme == "https"
    if new_token:
        response.set_cookie(CSRF_COOKIE, token, path=cookie_path, httponly=True, samesite="strict", secure=secure)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=cookie_path, httponly=True, samesite="strict", secure=secure)
    return response


def redirect(request: Request, path: str, message: str | None = None) -> Response:
    """Redirect (303) to ``path`` under the dashboard, with a one-time ``message`` for the next page."""
    response = RedirectResponse(base_path(request) + path, status_code=303)
    if message:
        response.set_cookie(FLASH_COOKIE, quote(message), path=base_path(request) or "/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
    return response
