"""Log formatters and the CLI's logging set-up.

The library only creates loggers (``logging.getLogger(__name__)``); handlers
are added by :func:`configure_logging`, which the ``roadie`` command calls.
Job log records carry ``jid`` and ``job`` (the job name) as extra fields, and
both formatters print them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import threading
from typing import Any

import orjson

__all__ = ["JOB_FIELDS", "JsonFormatter", "TextFormatter", "configure_logging"]

# Extra record attributes that the formatters print when present.
JOB_FIELDS = ("job", "jid", "queue", "elapsed")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _timestamp(record: logging.LogRecord) -> str:
    moment = dt.datetime.fromtimestamp(record.created, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    """One line per record: UTC time, pid, thread, job fields, level and message."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), f"pid={record.process}", f"tid={record.threadName}"]
        for name in JOB_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                parts.append(f"{name}={value}")
        line = " ".join(parts) + f" {record.levelname}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "pid": record.process,
            "tid": record.threadName,
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in JOB_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


_configured = threading.Lock()


def configure_logging(level: str = "info", log_format: str = "text") -> None:
    """Send roadie's logs to stderr in ``log_format`` at ``level``. Called by the CLI only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    with _configured:
        for existing in list(root.handlers):
            if getattr(existing, "_roadie", False):
                root.removeHandler(existing)
        handler._roadie = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(_LEVELS.get(level, logging.INFO))
    if os.environ.get("PYTHONWARNINGS") is None:
        logging.captureWarnings(True)
