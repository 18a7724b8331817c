"""Virtualenvs, installs and facts about the machine, for the benchmark driver.

The driver runs in ``bench/.venv``, which contains roadie (installed editable from
this repository), psutil and py-spy. Each Python peer gets its own virtualenv
under ``bench/.venv/peers/<family>``, because their pins conflict: arq 0.28
needs redis-py < 6, taskiq-redis 1.2.4 needs redis-py >= 8 and SAQ's redis
extra needs redis-py < 8. Ruby Sidekiq comes from Debian (``ruby-sidekiq``,
6.4) when ``sidekiq`` is not on PATH. A peer that fails to install is left
out, and the error is kept in ``bench/.venv/bench-install.json`` for the report.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
APPS_DIR = BENCH_DIR / "apps"
VENV_DIR = BENCH_DIR / ".venv"
PEERS_DIR = VENV_DIR / "peers"
INSTALL_STATE = VENV_DIR / "bench-install.json"

DRIVER_PACKAGES = ["-e", str(REPO_DIR), "psutil", "py-spy"]

# Requirements that pip installs for each peer.
PEER_PACKAGES: dict[str, list[str]] = {
    "celery": ["celery[redis]"],
    "rq": ["rq"],
    "dramatiq": ["dramatiq[redis]"],
    "arq": ["arq"],
    "huey": ["huey", "redis"],
    # SAQ 0.26.4 imports typing_extensions without declaring it as a dependency.
    "saq": ["saq[redis]", "typing-extensions"],
    "taskiq": ["taskiq", "taskiq-redis"],
}
# Distributions whose versions the report shows, per family.
VERSION_OF = {
    "roadie": ["roadie", "redis", "hiredis", "orjson"],
    "celery": ["celery", "kombu", "redis"],
    "rq": ["rq", "redis"],
    "dramatiq": ["dramatiq", "redis"],
    "arq": ["arq", "redis"],
    "huey": ["huey", "redis"],
    "saq": ["saq", "redis"],
    "taskiq": ["taskiq", "taskiq-redis", "redis"],
}


def venv_dir(family: str) -> Path:
    """Return the virtualenv that runs ``family``: the driver's for roadie, else the peer's own."""
    return VENV_DIR if family == "roadie" else PEERS_DIR / family


def venv_bin(family: str, name: str) -> str:
    return str(venv_dir(family) / "bin" / name)


def in_driver_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV_DIR.resolve()


def _pip(venv: Path, packages: list[str]) -> str | None:
    """Install ``packages`` into ``venv``; return None, or the tail of pip's output on failure."""
    completed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *packages],
        capture_output=True, text=True, check=False,
    )
    if completed.returncode == 0:
        return None
    # Leave out pip's warnings about configured package folders that do not exist.
    lines = [line for line in completed.stderr.splitlines() if not line.startswith("WARNING: Location")]
    return "\n".join(lines[-6:]) or f"pip exited with code {completed.returncode}"


def _make_venv(path: Path) -> str | None:
    if (path / "bin" / "python").exists():
        return None
    completed = subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True)
    return None if completed.returncode == 0 else completed.stderr.strip()


def _ensure_sidekiq() -> str | None:
    """Install Debian's ruby-sidekiq when ``sidekiq`` is not on PATH; return an error or None."""
    if shutil.which("sidekiq") and shutil.which("ruby"):
        return None
    print("bench: installing ruby-sidekiq with apt-get", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "install", "-y", "ruby-sidekiq"], ["apt-get", "update"],
                    ["apt-get", "install", "-y", "ruby-sidekiq"]):
        completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if completed.returncode == 0 and command[1] == "install":
            return None
    return "apt-get install -y ruby-sidekiq failed: " + completed.stderr.strip()[-400:]


def bootstrap(reinstall: bool = False) -> None:
    """Create the virtualenvs and install what is missing, then re-run this command in bench/.venv."""
    state: dict[str, Any] = {}
    if INSTALL_STATE.exists() and not reinstall:
        state = json.loads(INSTALL_STATE.read_text())

    if not state.get("roadie", {}).get("ok"):
        print(f"bench: creating {VENV_DIR} and installing roadie, psutil and py-spy", flush=True)
        error = _make_venv(VENV_DIR) or _pip(VENV_DIR, DRIVER_PACKAGES)
        if error:
            raise SystemExit(f"bench: failed to set up {VENV_DIR}:\n{error}")
        state["roadie"] = {"ok": True}

    for family, packages in PEER_PACKAGES.items():
        if state.get(family, {}).get("ok") and state[family].get("packages") == packages:
            continue
        print(f"bench: installing {' '.join(packages)} into {venv_dir(family)}", flush=True)
        error = _make_venv(venv_dir(family)) or _pip(venv_dir(family), packages)
        state[family] = {"ok": error is None, "error": error, "packages": packages}
        if error:
            print(f"bench: {family} failed to install and will be skipped:\n{error}", flush=True)

    if not state.get("sidekiq", {}).get("ok"):
        error = _ensure_sidekiq()
        state["sidekiq"] = {"ok": error is None, "error": error}

    INSTALL_STATE.write_text(json.dumps(state, indent=2))
    python = str(VENV_DIR / "bin" / "python")
    os.execv(python, [python, str(BENCH_DIR / "run.py"), *sys.argv[1:]])


def install_state() -> dict[str, Any]:
    return json.loads(INSTALL_STATE.read_text()) if INSTALL_STATE.exists() else {}


def _run(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return (completed.stdout or completed.stderr).strip()


def versions() -> dict[str, str]:
    """Return the version of each system's packages, of Python and of Ruby."""
    found: dict[str, str] = {"python": platform.python_version()}
    state = install_state()
    for family, distributions in VERSION_OF.items():
        if family != "roadie" and not state.get(family, {}).get("ok"):
            continue
        script = "import importlib.metadata as m, sys; print(' '.join(m.version(d) for d in sys.argv[1:]))"
        numbers = _run([venv_bin(family, "python"), "-c", script, *distributions]).split()
        for distribution, number in zip(distributions, numbers):
            found[f"{family}:{distribution}"] = number
    if state.get("sidekiq", {}).get("ok"):
        found["sidekiq:sidekiq"] = _run(["ruby", "-e", 'require "sidekiq"; puts Sidekiq::VERSION'])
        found["sidekiq:redis-rb"] = _run(["ruby", "-e", 'require "redis"; puts Redis::VERSION'])
        found["ruby"] = _run(["ruby", "-e", "puts RUBY_VERSION"])
    return found


def roadie_revision() -> str:
    """Return the repository's commit, marked when src/ has uncommitted changes (roadie runs from the tree)."""
    commit = _run(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"])
    changed = _run(["git", "-C", str(REPO_DIR), "status", "--porcelain", "--", "src"])
    return commit + (" with uncommitted changes in src/" if changed else "")


def machine() -> dict[str, Any]:
    """Return the CPU model, core count, memory and kernel of this machine."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
    }
