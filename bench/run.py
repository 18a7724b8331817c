"""Run roadie's benchmarks side by side with Sidekiq and the Python job libraries.

    python3 bench/run.py [--jobs N] [--runs R] [--systems a,b,...]
                         [--only throughput,enqueue,latency,schedule,memory] [--memory-jobs M]

The first call creates bench/.venv and one virtualenv per peer, and installs
Ruby Sidekiq with apt-get if needed; then the command re-runs itself inside
bench/.venv. Each run starts a private Redis server, runs every chosen system
(in reverse order on even runs, so slow drift of the machine falls on all),
and writes bench/results/<timestamp>.json. At the end the tables in
docs/benchmarks.md are regenerated from that file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import environment  # noqa: E402 - needs the path above

RESULTS_DIR = environment.BENCH_DIR / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark roadie against Sidekiq and Python job libraries.")
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per throughput and enqueue test [20000]")
    parser.add_argument("--runs", type=int, default=3, help="runs of every test; the report shows the median [3]")
    parser.add_argument("--systems", default="", help="comma-separated system names [all installed]")
    parser.add_argument("--only", default="", help="comma-separated benchmarks to run [all]")
    parser.add_argument("--memory-jobs", type=int, default=200_000,
                        help="jobs run before the last memory reading [200000]")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--profile", type=int, default=0, metavar="HZ",
                        help="instead of the benchmarks, profile roadie's worker draining --jobs jobs with "
                             "py-spy at HZ samples per second and print a summary")
    parser.add_argument("--profile-gil", action="store_true",
                        help="with --profile, keep only samples of the thread that holds the GIL (py-spy --gil)")
    parser.add_argument("--reinstall", action="store_true", help="reinstall every virtualenv's packages")
    return parser.parse_args(argv)


def choose_systems(args: argparse.Namespace) -> tuple[list[Any], dict[str, str]]:
    """Return the systems to run and, for those left out, the reason."""
    from systems import all_systems

    state = environment.install_state()
    known = {system.name: system for system in all_systems()}
    names = [name.strip() for name in args.systems.split(",") if name.strip()] or list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown system {unknown[0]!r}; known systems: {', '.join(known)}")
    chosen, skipped = [], {}
    for name in names:
        family = known[name].family
        if state.get(family, {}).get("ok", family == "roadie"):
            chosen.append(known[name])
        else:
            skipped[name] = f"{family} is not installed: {state.get(family, {}).get('error')}"
    return chosen, skipped


def run_one(run_index: int, systems: list[Any], phases: list[str], args: argparse.Namespace,
            out_dir: Path) -> dict[str, Any]:
    from phases import PHASE_FUNCTIONS, Context
    from roadie.storage.embedded import EmbeddedRedis

    order = systems if run_index % 2 == 1 else list(reversed(systems))
    record: dict[str, Any] = {"index": run_index, "order": [system.name for system in order],
                              "loadavg_start": os.getloadavg(), "roadie_start": environment.roadie_revision(),
                              "results": {}, "errors": {}}
    with EmbeddedRedis() as server:
        record["redis_version"] = server.version
        ctx = Context(server.url, server.pid, out_dir / f"run-{run_index}", args.jobs, args.memory_jobs)
        for system in order:
            for phase in phases:
                if phase not in system.phases:
                    continue
                print(f"bench: run {run_index}: {system.name} {phase}", flush=True)
                started = time.monotonic()
                try:
                    result = PHASE_FUNCTIONS[phase](system, ctx)
                except Exception as exc:  # noqa: BLE001 - one failing system must not end the run
                    record["errors"].setdefault(system.name, {})[phase] = f"{type(exc).__name__}: {exc}"
                    print(f"bench:   failed: {exc}", flush=True)
                    with open(ctx.run_dir / "errors.log", "a") as errors:
                        errors.write(f"run {run_index}: {system.name} {phase}\n{traceback.format_exc()}\n")
                    continue
                record["results"].setdefault(system.name, {})[phase] = result
                print(f"bench:   {_brief(phase, result)} ({time.monotonic() - started:.0f} s)", flush=True)
    record["loadavg_end"] = os.getloadavg()
    record["roadie_end"] = environment.roadie_revision()
    return record


def _brief(phase: str, result: Any) -> str:
    if phase == "throughput":
        return f"{result['rate']:.0f} jobs/s ({result['steady_rate']:.0f} after the first job)"
    if phase == "enqueue":
        return f"single {result['single_rate']:.0f}/s, bulk {result['bulk_rate']:.0f}/s"
    if phase == "latency":
        return ", ".join(f"{item['variant']}: p50 {item['p50_ms']:.2f} ms p99 {item['p99_ms']:.2f} ms"
                         for item in result)
    if phase == "schedule":
        return f"late p50 {result['p50_ms']:.0f} ms p99 {result['p99_ms']:.0f} ms"
    return (f"idle {result['idle_rss_mb']:.1f} MiB, {result['rss_after_first_mb']:.1f} MiB after "
            f"{result['first_jobs']}, {result['rss_after_all_mb']:.1f} MiB after {result['jobs']}")


def profile(args: argparse.Namespace, out_dir: Path) -> None:
    from phases import Context, throughput
    from profiling import summarize
    from roadie.storage.embedded import EmbeddedRedis
    from systems import all_systems

    roadie = next(system for system in all_systems() if system.name == "roadie")
    with EmbeddedRedis() as server:
        ctx = Context(server.url, server.pid, out_dir / "profile", args.jobs, args.memory_jobs,
                      profile_rate=args.profile, profile_gil=args.profile_gil)
        (ctx.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        result = throughput(roadie, ctx)
    print(f"bench: {result['rate']:.0f} jobs/s while profiled (py-spy slows the worker)")
    print(summarize(ctx.run_dir / "profile-roadie.txt"))


def main() -> None:
    args = parse_args()
    if not environment.in_driver_venv():
        environment.bootstrap(reinstall=args.reinstall)  # re-runs this file in bench/.venv

    from phases import PHASE_FUNCTIONS

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = RESULTS_DIR / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.profile:
        profile(args, out_dir)
        return

    phases = [name.strip() for name in args.only.split(",") if name.strip()] or list(PHASE_FUNCTIONS)
    unknown = [phase for phase in phases if phase not in PHASE_FUNCTIONS]
    if unknown:
        raise SystemExit(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(PHASE_FUNCTIONS)}")
    systems, skipped = choose_systems(args)

    results: dict[str, Any] = {
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "command": "python3 bench/run.py " + " ".join(sys.argv[1:]),
        "options": {"jobs": args.jobs, "runs": args.runs, "memory_jobs": args.memory_jobs, "phases": phases},
        "machine": environment.machine(),
        "versions": environment.versions(),
        "skipped": skipped,
        "systems": {system.name: {"label": system.label, "family": system.family,
                                  "concurrency": system.concurrency, "bulk_method": system.bulk_method,
                                  "single_method": system.single_method, "max_jobs": system.max_jobs,
                                  "worker": " ".join(system.worker(["default"], "redis://127.0.0.1:PORT/0"))}
                    for system in systems},
        "runs": [],
    }
    path = RESULTS_DIR / f"{stamp}.json"
    for run_index in range(1, args.runs + 1):
        results["runs"].append(run_one(run_index, systems, phases, args, out_dir))
        path.write_text(json.dumps(results, indent=1))
    results["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    path.write_text(json.dumps(results, indent=1))
    print(f"bench: results in {path}", flush=True)

    if not args.no_report:
        import report

        report.write(results, environment.REPO_DIR / "docs" / "benchmarks.md")
        print("bench: tables in docs/benchmarks.md regenerated", flush=True)


if __name__ == "__main__":
    main()
