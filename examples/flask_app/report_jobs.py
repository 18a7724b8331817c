"""The job of the Flask example: summarise a list of numbers into a text report file."""

from __future__ import annotations

import os
import statistics
import tempfile

from flask import current_app

import roadie


# An explicit name keeps the job's identity stable if this module moves.
@roadie.job(name="flask_example.build_report", queue="reports", retry=3)
def build_report(report_id: str, numbers: list[float]) -> None:
    """Write ``<REPORTS_DIR>/<report_id>.txt`` with the count, sum, mean, minimum and maximum."""
    lines = [
        f"report {report_id}",
        f"count: {len(numbers)}",
        f"sum: {sum(numbers):g}",
        f"mean: {statistics.fmean(numbers):g}",
        f"min: {min(numbers):g}",
        f"max: {max(numbers):g}",
    ]
    # The worker pushes the app context around each job, so current_app works here.
    folder = current_app.config["REPORTS_DIR"]
    os.makedirs(folder, exist_ok=True)
    # Write to a temporary file and rename, so a reader never sees half a report.
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(handle, "w", encoding="utf-8") as output:
        output.write("\n".join(lines) + "\n")
    os.replace(temporary, report_path(report_id))


def report_path(report_id: str) -> str:
    return os.path.join(current_app.config["REPORTS_DIR"], f"{report_id}.txt")
