"""Parse and bound every value a request carries: query parameters, path segments and form fields.

A value outside its bounds is a 400 (or 404 for a path segment naming nothing),
never clamped silently, so a typo in a URL is visible.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

from roadie.config import validate_queue_name

__all__ = [
    "DEFAULT_DAYS",
    "MAX_COUNT",
    "MAX_DAYS",
    "MAX_PAGE",
    "MAX_SUBSTRING",
    "EntryKey",
    "decode_raw",
    "encode_raw",
    "int_param",
    "is_metrics_job_name",
    "metrics_job_name",
    "parse_entry_key",
    "queue_name",
    "substring_param",
]

# History chart range in days; Sidekiq bounds it the same way, because every
# day costs a key read.
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 180, 30
# Rows per page.
MIN_COUNT, MAX_COUNT = 1, 1000
# Pages beyond this are a typo, not a real request: a million pages of 1000
# rows is more than any list holds.
MAX_PAGE = 1_000_000
# Characters of a ?substr= filter; a longer one matches nothing useful.
MAX_SUBSTRING = 200
# Characters of a job name in a /metrics/<name> path. Longer names are surely
# not job names, and every character is repeated in hundreds of key names.
MAX_JOB_NAME = 500

_INTEGER = re.compile(r"-?[0-9]+")
# "<score>-<jid>": a decimal or exponent float, a dash, then the jid (possibly empty).
_ENTRY_KEY = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)-(.*)", re.DOTALL)


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Return query parameter ``name`` as an int in ``low..high``, ``default`` when absent; else 400."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    # int() alone would also accept spaces, underscores, "+" and non-ASCII digits.
    if _INTEGER.fullmatch(raw) is None or len(raw) > 12:
        raise HTTPException(400, f"invalid {name} {raw[:40]!r}: expected a whole number from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise HTTPException(400, f"invalid {name} {value}: expected a whole number from {low} to {high}")
    return value


def choice_param(request: Request, name: str, choices: tuple[str, ...]) -> str:
    """Return query parameter ``name`` if it is one of ``choices``; the first choice when absent; else 400."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return choices[0]
    if raw not in choices:
        raise HTTPException(400, f"invalid {name} {raw[:40]!r}: expected one of {', '.join(choices)}")
    return raw


def substring_param(request: Request) -> str:
    """Return the ``substr`` filter, stripped; 400 when longer than :data:`MAX_SUBSTRING`."""
    raw = request.query_params.get("substr", "").strip()
    if len(raw) > MAX_SUBSTRING:
        raise HTTPException(400, f"invalid substr: at most {MAX_SUBSTRING} characters")
    return raw


def queue_name(raw: str) -> str:
    """Return ``raw`` if it is a valid queue name; else 404, as no queue can have that name."""
    try:
        return validate_queue_name(raw)
    except ValueError:
        raise HTTPException(404, "Not Found: no queue can have that name") from None


def is_metrics_job_name(value: object) -> bool:
    """Return True if ``value`` can be the name in a ``/metrics/<name>`` path: printable, 1 to 500 characters."""
    return isinstance(value, str) and 0 < len(value) <= MAX_JOB_NAME and value.isprintable()


def metrics_job_name(raw: str) -> str:
    """Return ``raw`` if :func:`is_metrics_job_name` accepts it; else 404."""
    if not is_metrics_job_name(raw):
        raise HTTPException(404, f"Not Found: a job name in this path must be 1 to {MAX_JOB_NAME} printable characters")
    return raw


@dataclass(frozen=True)
class EntryKey:
    """A sorted-set entry named as Sidekiq's Web UI names it: ``<score>-<jid>``."""

    score: float
    jid: str | None

    @property
    def text(self) -> str:
        return f"{self.score!r}-{self.jid or ''}"


def entry_key_text(score: float, jid: str | None) -> str:
    return EntryKey(score, jid).text


def parse_entry_key(raw: str) -> EntryKey | None:
    """Return the score and jid in ``raw``, or None when it is not ``<score>-<jid>`` with a finite score."""
    match = _ENTRY_KEY.fullmatch(raw)
    if match is None:
        return None
    score = float(match.group(1))
    if not math.isfinite(score):
        return None
    return EntryKey(score, match.group(2) or None)


def encode_raw(raw: bytes) -> str:
    """Encode a job's exact bytes for a form field, so the bytes come back unchanged."""
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_raw(value: object) -> bytes:
    """Decode a form field made by :func:`encode_raw`; 400 when it is not one."""
    if not isinstance(value, str) or not value:
        raise HTTPException(400, "missing job: the form did not say which job to act on")
    try:
        return base64.b64decode(value.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise HTTPException(400, "invalid job reference in the form; reload the page and try again") from None
