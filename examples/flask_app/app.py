"""A Flask app that builds reports in the background with roadie.

POST /reports with ``{"numbers": [3, 1, 4]}`` enqueues a job and returns 202
with the report's URL; GET that URL returns 202 until a worker has written
the report, then 200 with its text. ``flask --app app`` finds
:func:`create_app` by its name.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from flask import Flask, abort, jsonify, request, url_for

from report_jobs import build_report, report_path
from roadie.contrib.flask import Roadie

MAX_NUMBERS = 10_000


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config["REPORTS_DIR"] = os.environ.get("REPORTS_DIR", os.path.join(app.instance_path, "reports"))
    # The keys of roadie.yml; the Redis URL comes from $REDIS_URL unless given here.
    app.config["ROADIE"] = {"queues": ["reports", "default"]}
    app.config.update(config or {})
    Roadie(app)

    @app.post("/reports")
    def create_report() -> Any:
        numbers = (request.get_json(silent=True) or {}).get("numbers")
        if not _valid_numbers(numbers):
            abort(400, description=f"send JSON like {{\"numbers\": [3, 1, 4]}} with 1 to {MAX_NUMBERS} numbers")
        report_id = uuid.uuid4().hex
        jid = build_report.perform_async(report_id, numbers)
        location = url_for("show_report", report_id=report_id)
        return jsonify({"report_id": report_id, "jid": jid, "url": location}), 202, {"Location": location}

    @app.get("/reports/<report_id>")
    def show_report(report_id: str) -> Any:
        if not report_id.isalnum():
            abort(404)
        try:
            with open(report_path(report_id), encoding="utf-8") as handle:
                return handle.read(), 200, {"Content-Type": "text/plain; charset=utf-8"}
        except FileNotFoundError:
            return jsonify({"report_id": report_id, "status": "pending"}), 202

    return app


def _valid_numbers(numbers: Any) -> bool:
    return (
        isinstance(numbers, list)
        and 0 < len(numbers) <= MAX_NUMBERS
        and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in numbers)
    )
