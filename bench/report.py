"""Turn a results file from bench/run.py into the Markdown tables of docs/benchmarks.md.

Each figure is the median over the runs, with the range (min-max) when there
was more than one run, and a ratio to roadie's median. Only the text between
the two marker lines in docs/benchmarks.md is replaced.

Usage: ``python bench/report.py [RESULTS.json]`` (default: the newest file in
bench/results).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
START_MARKER = "<!-- bench/run.py tables: start -->"
END_MARKER = "<!-- bench/run.py tables: end -->"
REFERENCE = "roadie"

Getter = Callable[[dict[str, Any]], float | None]


# ------------------------------------------------------------------ numbers


def _values(results: dict[str, Any], system: str, phase: str, get: Getter) -> list[float]:
    values = []
    for run in results["runs"]:
        found = run["results"].get(system, {}).get(phase)
        if found is None:
            continue
        value = get(found)
        if value is not None:
            values.append(value)
    return values


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _number(value: float, digits: int | None = None) -> str:
    """Format with thousands separators; by default 0, 1 or 2 decimals for values >= 100, >= 10 or smaller."""
    if digits is None:
        if abs(value) >= 100:
            digits = 0
        elif abs(value) >= 10:
            digits = 1
        else:
            digits = 2
    return f"{value:,.{digits}f}"


def _cell(values: list[float], digits: int | None = None) -> str:
    if not values:
        return "n/a"
    median = _number(statistics.median(values), digits)
    if len(values) == 1:
        return median
    return f"{median} ({_number(min(values), digits)}–{_number(max(values), digits)})"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "n/a"
    return f"{value / reference:.2f}×"


class Metric:
    """A column pair: one figure of one benchmark, and its ratio to roadie's."""

    def __init__(self, results: dict[str, Any], phase: str, get: Getter, digits: int | None = None) -> None:
        self.results, self.phase, self.get, self.digits = results, phase, get, digits

    def cells(self, system: str, reference: str = REFERENCE) -> list[str]:
        values = _values(self.results, system, self.phase, self.get)
        reference_values = _values(self.results, reference, self.phase, self.get)
        return [_cell(values, self.digits), _ratio(_median(values), _median(reference_values))]


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _systems_with(results: dict[str, Any], phase: str) -> list[str]:
    names = []
    for name in results["systems"]:
        if any(phase in run["results"].get(name, {}) for run in results["runs"]):
            names.append(name)
    return names


def _label(results: dict[str, Any], name: str) -> str:
    return results["systems"][name]["label"]


# ------------------------------------------------------------------ tables


def _revision_text(run: dict[str, Any]) -> str:
    start = run.get("roadie_start", "?")
    end = run.get("roadie_end", start)
    return start if end == start else f"{start} at the start, {end} at the end"


def _version_lines(versions: dict[str, str]) -> list[str]:
    """Return one line per system family, such as ``celery 5.7.0 (kombu 5.7.0, redis 8.2.0)``."""
    families: dict[str, list[tuple[str, str]]] = {}
    lines = []
    for key, version in versions.items():
        family, _, distribution = key.partition(":")
        if distribution:
            families.setdefault(family, []).append((distribution, version))
        else:
            lines.append(f"{key} {version}")
    for family, items in families.items():
        main = dict(items).get(family, "?")
        extras = ", ".join(f"{name} {version}" for name, version in items if name != family)
        lines.append(f"{family} {main}" + (f" ({extras})" if extras else ""))
    return lines


def _setup_section(results: dict[str, Any]) -> list[str]:
    """Return the run's options, machine, versions, one row per system's settings, and failures."""
    machine = results["machine"]
    options = results["options"]
    runs = results["runs"]
    lines = [
        f"Run started {results['started']}, finished {results.get('finished', 'not finished')}, with "
        f"`{results['command'].strip()}`: {options['runs']} run{'s' if options['runs'] != 1 else ''}, "
        f"N = {options['jobs']:,} jobs, "
        f"memory test to {options['memory_jobs']:,} jobs.",
        "",
        f"- Machine: {machine['cpu_model']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"Linux {machine['kernel']}.",
        f"- Redis: a private redis-server {runs[0].get('redis_version', '?') if runs else '?'} per run on "
        "127.0.0.1, emptied with FLUSHALL before each test, no persistence.",
        "- Load average (1 min) at the start and end of each run: "
        + "; ".join(f"run {run['index']}: {run['loadavg_start'][0]:.2f} → {run.get('loadavg_end', [0])[0]:.2f}"
                    for run in runs) + ".",
        "- roadie's code, installed editable, so each worker start loads the tree as it is then:",
        *[f"  - run {run['index']}: {_revision_text(run)}" for run in runs],
        "- Versions:",
        *[f"  - {text}" for text in _version_lines(results["versions"])],
        "",
    ]

    rows = []
    for name, info in results["systems"].items():
        worker = info["worker"].replace(str(BENCH_DIR) + "/", "bench/")
        rows.append([info["label"], info["concurrency"], f"`{worker}`", info["single_method"], info["bulk_method"]])
    lines += _table(["System", "Concurrency", "Worker command (in bench/apps)", "Single enqueue", "Bulk enqueue"],
                    rows)

    for name, reason in results.get("skipped", {}).items():
        lines.append(f"- Not run: {name}: {reason}")
    errors = [(run["index"], name, phase, message) for run in runs
              for name, phases in run.get("errors", {}).items() for phase, message in phases.items()]
    for index, name, phase, message in errors:
        message = message.replace(str(BENCH_DIR) + "/", "bench/")
        lines.append(f"- Failed in run {index}: {name} {phase}: {message}")
    if errors or results.get("skipped"):
        lines.append("")
    return lines


def _throughput_section(results: dict[str, Any]) -> list[str]:
    rate = Metric(results, "throughput", lambda r: r["rate"])
    steady = Metric(results, "throughput", lambda r: r["steady_rate"])
    cpu = Metric(results, "throughput", lambda r: r["cpu_ms_per_1000"])
    rss = Metric(results, "throughput", lambda r: r["peak_rss_mb"], 1)
    redis_cpu = Metric(results, "throughput", lambda r: r["redis_cpu_seconds"] / r["jobs"] * 1_000_000)
    other = Metric(results, "throughput", lambda r: r.get("other_cpu_cores"), 2)
    commands = Metric(results, "throughput", lambda r: r.get("redis_commands_per_job"), 2)
    rows = []
    for name in _systems_with(results, "throughput"):
        jobs = _values(results, name, "throughput", lambda r: r["jobs"])
        lost = _values(results, name, "throughput", lambda r: r["missing"] + r["duplicates"])
        rows.append([_label(results, name), f"{int(jobs[0]):,}", *rate.cells(name), *steady.cells(name),
                     *cpu.cells(name), *rss.cells(name), redis_cpu.cells(name)[0], commands.cells(name)[0],
                     other.cells(name)[0],
                     _number(sum(lost), 0)])
    header = ["System", "Jobs", "Jobs/s (worker start to last job)", "× roadie", "Jobs/s (first job to last)",
              "× roadie", "Worker CPU ms / 1,000 jobs", "× roadie", "Peak RSS MiB", "× roadie",
              "Redis CPU ms / 1,000 jobs", "Redis commands / job", "Other CPU use, cores",
              "Missing + duplicate runs"]
    return ["### Throughput: drain N queued no-op jobs with one worker process", "", *_table(header, rows)]


def _enqueue_section(results: dict[str, Any]) -> list[str]:
    single = Metric(results, "enqueue", lambda r: r["single_rate"])
    bulk = Metric(results, "enqueue", lambda r: r["bulk_rate"])
    rows = []
    for name in _systems_with(results, "enqueue"):
        info = results["systems"][name]
        rows.append([_label(results, name), info["single_method"], *single.cells(name), info["bulk_method"],
                     *bulk.cells(name)])
    header = ["System", "Single call", "Jobs/s", "× roadie", "Bulk path", "Jobs/s", "× roadie"]
    return ["### Enqueue: N jobs from one client process", "", *_table(header, rows)]


def _latency_getter(variant: str, key: str) -> Getter:
    def get(result: list[dict[str, Any]]) -> float | None:
        for item in result:
            if item["variant"] == variant:
                return item[key]
        return None

    return get


def _latency_section(results: dict[str, Any]) -> list[str]:
    rows = []
    roadie_variants = {item["variant"] for run in results["runs"]
                       for item in run["results"].get(REFERENCE, {}).get("latency", [])}
    for name in _systems_with(results, "latency"):
        variants = []
        for run in results["runs"]:
            for item in run["results"].get(name, {}).get("latency", []):
                if item["variant"] not in variants:
                    variants.append(item["variant"])
        for variant in variants:
            # Compare with roadie on the same variant, or on its first queue.
            reference_variant = variant if variant in roadie_variants else "first of 3 queues"
            cells = []
            for key in ("p50_ms", "p99_ms", "max_ms"):
                values = _values(results, name, "latency", _latency_getter(variant, key))
                reference = _values(results, REFERENCE, "latency", _latency_getter(reference_variant, key))
                cells += [_cell(values), _ratio(_median(values), _median(reference))]
            rows.append([_label(results, name), variant, *cells])
    header = ["System", "Queue", "p50 ms", "× roadie", "p99 ms", "× roadie", "max ms", "× roadie"]
    return ["### Latency: enqueue to job start on an idle worker (200 jobs, 20 ms apart)", "",
            *_table(header, rows)]


def _schedule_section(results: dict[str, Any]) -> list[str]:
    metrics = [Metric(results, "schedule", lambda r, key=key: r[key]) for key in ("p50_ms", "p99_ms", "max_ms")]
    rows = []
    for name in _systems_with(results, "schedule"):
        early = _values(results, name, "schedule", lambda r: r["early"])
        rows.append([_label(results, name), *(cell for metric in metrics for cell in metric.cells(name)),
                     _number(sum(early), 0)])
    header = ["System", "p50 ms late", "× roadie", "p99 ms late", "× roadie", "max ms late", "× roadie",
              "Started early"]
    return ["### Scheduled jobs: lateness of 200 jobs due 1 s after their push", "", *_table(header, rows)]


def _memory_section(results: dict[str, Any]) -> list[str]:
    keys = [("idle_rss_mb", 1), ("rss_after_first_mb", 1), ("rss_after_all_mb", 1), ("growth_percent", 1),
            ("peak_rss_mb", 1)]
    metrics = [Metric(results, "memory", lambda r, key=key: r[key], digits) for key, digits in keys]
    rows = []
    for name in _systems_with(results, "memory"):
        rows.append([_label(results, name), *(metric.cells(name)[0] for metric in metrics)])
    jobs = results["options"]["memory_jobs"]
    header = ["System", "Idle RSS MiB", "RSS after 10,000 jobs", f"RSS after {jobs:,} jobs",
              "Growth from 10,000 %", "Peak RSS MiB"]
    return ["### Memory: resident set of the worker process (MiB)", "", *_table(header, rows)]


# ------------------------------------------------------------------ targets


def _target_rows(results: dict[str, Any]) -> list[list[str]]:
    def median(system: str, phase: str, get: Getter) -> float | None:
        return _median(_values(results, system, phase, get))

    rows = []

    def add(target: str, measured: float | None, goal: float, unit: str, higher_is_better: bool) -> None:
        if measured is None:
            rows.append([target, "not measured", ""])
            return
        if higher_is_better:
            met = measured >= goal
            achieved = measured / goal
        else:
            met = measured < goal
            achieved = goal / measured if measured else float("inf")
        verdict = "met" if met else f"missed: {achieved:.2f} of the target"
        rows.append([target, f"{measured:,.2f}{unit}", verdict])

    rate = median(REFERENCE, "throughput", lambda r: r["rate"])
    sidekiq_rate = median("sidekiq", "throughput", lambda r: r["rate"])
    peers = [name for name, info in results["systems"].items() if info["family"] not in ("roadie", "sidekiq")]
    peer_rates = [(median(name, "throughput", lambda r: r["rate"]), name) for name in peers]
    peer_rates = [(value, name) for value, name in peer_rates if value is not None]
    best_peer = max(peer_rates) if peer_rates else (None, "")
    add("Drain ≥ 2× Sidekiq", rate / sidekiq_rate if rate and sidekiq_rate else None, 2, "×", True)
    add(f"Drain ≥ 4× the fastest Python peer ({_label(results, best_peer[1]) if best_peer[1] else 'none'})",
        rate / best_peer[0] if rate and best_peer[0] else None, 4, "×", True)
    for key, label in (("bulk_rate", "Bulk enqueue ≥ Sidekiq push_bulk"),
                       ("single_rate", "Single enqueue ≥ Sidekiq perform_async")):
        ours = median(REFERENCE, "enqueue", lambda r, key=key: r[key])
        theirs = median("sidekiq", "enqueue", lambda r, key=key: r[key])
        add(label, ours / theirs if ours and theirs else None, 1, "×", True)
    for variant in ("first of 3 queues", "last of 3 queues"):
        add(f"Idle latency p50 < 2 ms, {variant}",
            median(REFERENCE, "latency", _latency_getter(variant, "p50_ms")), 2, " ms", False)
        add(f"Idle latency p99 < 10 ms, {variant}",
            median(REFERENCE, "latency", _latency_getter(variant, "p99_ms")), 10, " ms", False)
    add("Scheduled jobs start within 1 s (p99)", median(REFERENCE, "schedule", lambda r: r["p99_ms"]), 1000,
        " ms", False)
    add("Idle worker RSS < 40 MB (40 MB = 38.1 MiB)", median(REFERENCE, "memory", lambda r: r["idle_rss_mb"]),
        40e6 / 2**20, " MiB", False)
    add(f"RSS after {results['options']['memory_jobs']:,} jobs within 10 % of RSS after 10,000",
        median(REFERENCE, "memory", lambda r: abs(r["growth_percent"])), 10, " %", False)
    return rows


def render(results: dict[str, Any]) -> str:
    """Return the generated Markdown: setup, one table per benchmark, and the targets."""
    lines = ["## Setup of this run", "", *_setup_section(results), "## Results", "",
             "Each cell is the median over the runs with the range in brackets; "
             "× roadie divides the median by roadie's.", ""]
    phases = results["options"]["phases"]
    sections = {"throughput": _throughput_section, "enqueue": _enqueue_section, "latency": _latency_section,
                "schedule": _schedule_section, "memory": _memory_section}
    for phase, section in sections.items():
        if phase in phases:
            lines += section(results)
    lines += ["### roadie's targets", "", *_table(["Target", "Measured (median)", "Verdict"], _target_rows(results))]
    return "\n".join(lines).rstrip() + "\n"


def write(results: dict[str, Any], doc: Path) -> None:
    """Replace the generated part of ``doc``, or append it with its markers when the doc has none."""
    generated = f"{START_MARKER}\n\n{render(results)}\n{END_MARKER}"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if START_MARKER in text and END_MARKER in text:
        before = text[: text.index(START_MARKER)]
        after = text[text.index(END_MARKER) + len(END_MARKER):]
        text = before + generated + after
    else:
        text = text.rstrip() + "\n\n" + generated + "\n"
    doc.write_text(text)


def main() -> None:
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
    else:
        candidates = sorted((BENCH_DIR / "results").glob("*.json"))
        if not candidates:
            raise SystemExit("no results file in bench/results; run bench/run.py first")
        path = candidates[-1]
    write(json.loads(path.read_text()), REPO_DIR / "docs" / "benchmarks.md")
    print(f"regenerated the tables in docs/benchmarks.md from {path}")


if __name__ == "__main__":
    main()
