"""Python jobs that the interop tests run in a roadie worker subprocess.

Load with ``roadie worker -r tests/interop/interop_jobs.py``. Each job that
records its arguments writes them as JSON to a new file under
``$INTEROP_OUTPUT_DIR/<job name>/``, so a test can compare exactly what
arrived with what Ruby sent.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import roadie

# A job blocked on a gate file gives up after this many seconds, so a test
# that fails before opening the gate cannot leave the worker busy forever.
GATE_TIMEOUT_SECONDS = 30.0


def record(job_name: str, args: tuple[Any, ...]) -> None:
    """Write ``args`` as a JSON array to a new file in the job's output folder."""
    folder = Path(os.environ["INTEROP_OUTPUT_DIR"]) / job_name
    folder.mkdir(parents=True, exist_ok=True)
    # Write, then rename, so a test polling the folder never reads half a file.
    partial = folder / f".{uuid.uuid4().hex}.partial"
    partial.write_text(json.dumps(list(args), ensure_ascii=False), encoding="utf-8")
    partial.rename(folder / f"{uuid.uuid4().hex}.json")


@roadie.job(name="RubyToPython")
def ruby_to_python(*args: Any) -> None:
    record("RubyToPython", args)


@roadie.job(name="FailsInPython", retry=3, backtrace=True)
def fails_in_python(*args: Any) -> None:
    raise ValueError(f"failed in Python with {len(args)} arguments: ünïcödé")


@roadie.job(name="FailsInRuby")
def fails_in_ruby(*args: Any) -> None:
    """The Python side of a job whose Ruby version fails: here it succeeds."""
    record("FailsInRuby", args)


@roadie.job(name="DiesInPython", retry=0)
def dies_in_python(*args: Any) -> None:
    raise RuntimeError("failed with retry=0, so the job goes straight to the dead set")


@roadie.job(name="WaitsForGate")
def waits_for_gate(gate_path: str) -> None:
    """Stay busy until the test creates ``gate_path``, then record it."""
    deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
    while not os.path.exists(gate_path):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gate file {gate_path} did not appear within {GATE_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.05)
    record("WaitsForGate", (gate_path,))
