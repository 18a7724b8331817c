#!/usr/bin/env python3
"""Set up the development environment and run roadie's tests or demo.

Usage:
    python3 dev.py test [pytest arguments...]
    python3 dev.py demo [roadie demo arguments...]

Creates .venv in the repository when it is missing, and installs roadie in
editable mode with the dev and embedded extras whenever pyproject.toml has
changed since the last install. Uses the standard library only, so it runs
before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent
VENV = REPO / ".venv"
VENV_BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
VENV_PYTHON = VENV_BIN / ("python.exe" if os.name == "nt" else "python")
INSTALL_STAMP = VENV / "roadie-install.sha256"
INSTALL_TARGET = ".[dev,embedded]"

PYTEST_NO_TESTS_COLLECTED = 5
USAGE = __doc__.split("\n\n")[1]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fail(message: str, exit_code: int = 1) -> None:
    say(f"dev.py: {message}")
    sys.exit(exit_code)


def create_venv() -> None:
    """Create .venv, or exit with the fix when this Python cannot create one."""
    if VENV_PYTHON.exists():
        return

    say("creating virtual environment in .venv")
    result = subprocess.run(
        [sys.executable, "-m", "venv", str(VENV)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode == 0 and VENV_PYTHON.exists():
        return

    # A half-created .venv would make the next run skip creation.
    shutil.rmtree(VENV, ignore_errors=True)
    output = result.stdout.strip()
    if "ensurepip" in output:
        fail(
            f"{sys.executable} cannot create a virtual environment because its ensurepip module "
            "is missing. Install it, for example on Debian or Ubuntu: "
            f"apt install python3-venv (or python{sys.version_info.major}.{sys.version_info.minor}-venv), "
            "then run dev.py again."
        )
    fail(f"creating the virtual environment in {VENV} failed:\n{output}")


def install_hash() -> str:
    """Return the SHA-256 of what decides the install: pyproject.toml and the requested extras."""
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes())
    digest.update(b"\0" + INSTALL_TARGET.encode())
    return digest.hexdigest()


def install_project() -> None:
    """Install roadie and its test dependencies into .venv unless the stamp is current."""
    expected = install_hash()
    try:
        if INSTALL_STAMP.read_text().strip() == expected:
            return
    except FileNotFoundError:
        pass

    say("installing roadie and test dependencies")
    command = [str(VENV_PYTHON), "-m", "pip", "install", "-q", "-e", INSTALL_TARGET]
    result = subprocess.run(command, cwd=REPO)
    if result.returncode != 0:
        fail(f"installing dependencies failed (exit code {result.returncode}): {' '.join(command)}")
    INSTALL_STAMP.write_text(expected + "\n")


def venv_tool(name: str) -> str:
    path = VENV_BIN / (f"{name}.exe" if os.name == "nt" else name)
    if not path.exists():
        fail(f"{path} not found: remove {INSTALL_STAMP} and run dev.py again to reinstall")
    return str(path)


def run_tests(pytest_args: list[str]) -> int:
    """Check the import layers, then run pytest. Return the exit code for the shell."""
    lint = subprocess.run([venv_tool("lint-imports")], cwd=REPO)
    if lint.returncode != 0:
        say(f"dev.py: lint-imports found broken import contracts (exit code {lint.returncode})")
        return lint.returncode

    tests = subprocess.run([str(VENV_PYTHON), "-m", "pytest", *pytest_args], cwd=REPO)
    if tests.returncode == PYTEST_NO_TESTS_COLLECTED:
        say("dev.py: pytest collected no tests, which counts as a failure")
        return 1
    return tests.returncode


def run_demo(demo_args: list[str]) -> int:
    return subprocess.run([venv_tool("roadie"), "demo", *demo_args], cwd=REPO).returncode


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 10):
        fail(f"roadie needs Python 3.10 or newer, but {sys.executable} is {sys.version.split()[0]}")
    if not argv or argv[0] in ("-h", "--help"):
        say(USAGE)
        return 0 if argv else 2

    command, args = argv[0], argv[1:]
    if command not in ("test", "demo"):
        say(f"dev.py: unknown command {command!r}, expected test or demo\n\n{USAGE}")
        return 2

    create_venv()
    install_project()
    if command == "test":
        return run_tests(args)
    return run_demo(args)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
