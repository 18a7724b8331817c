"""Runs the Django integration tests again under Django 6, which ships the tasks framework as ``django.tasks``.

Django 6 needs Python 3.12 or newer. When the interpreter running this suite
is older, the test looks for a newer one on PATH or among pyenv's versions.
It keeps a virtual environment for it in .venv-django6 at the repository's
root, with roadie (editable) and Django 6 from PyPI but no tasks backport,
and runs the Django test modules there. The first run needs PyPI; later runs
reuse the environment until pyproject.toml changes. With no such interpreter,
or no PyPI, it is skipped with the reason.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-django6"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / "roadie-install.sha256"
REQUIREMENTS = [f"{REPO}[embedded,web]", "django>=6,<7", "pytest>=8", "pytest-timeout>=2.3",
                "httpx>=0.27", "a2wsgi>=1.10", "flask>=3.0"]
# What pip prints when the package index cannot be reached.
OFFLINE_SIGNS = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
                 "No matching distribution found for django")
TEST_IDS = [
    "tests/contrib/test_django_tasks.py",
    "tests/contrib/test_django.py",
    "tests/contrib/test_django_command.py",
    "tests/examples/test_django_project.py",
    "tests/web/test_mounting.py::test_django_asgi_router_serves_dashboard",
    "tests/web/test_mounting.py::test_django_wsgi_serves_dashboard",
]


def python_312_or_newer() -> str | None:
    """Return the path of a working Python 3.12+ interpreter, or None."""
    if sys.version_info >= (3, 12):
        return sys.executable
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates = [shutil.which(f"python3.{minor}") for minor in range(12, 16)]
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.1[2-9]*", "bin", "python3")))
    for candidate in candidates:
        if candidate is None:
            continue
        # pyenv's shims exist on PATH for versions that are not selected, and exit non-zero.
        probe = subprocess.run([candidate, "-c", "import sys, venv; sys.exit(sys.version_info < (3, 12))"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return candidate
    return None


def prepare_venv(python: str) -> None:
    """Create .venv-django6 with ``python`` and install REQUIREMENTS unless its stamp is current."""
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes())
    digest.update("\0".join([python, *REQUIREMENTS]).encode())
    expected = digest.hexdigest()
    if VENV_PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == expected:
        return
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=60)
    install = subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", *REQUIREMENTS],
        capture_output=True, text=True, timeout=300,
    )
    if install.returncode != 0 and any(sign in install.stderr for sign in OFFLINE_SIGNS):
        shutil.rmtree(VENV, ignore_errors=True)
        pytest.skip(f"PyPI cannot be reached, so Django 6 cannot be installed: {install.stderr.strip()[-300:]}")
    assert install.returncode == 0, f"installing Django 6 into {VENV} failed:\n{install.stderr[-3000:]}"
    STAMP.write_text(expected + "\n")


def clean_environment() -> dict[str, str]:
    """This process's environment without what belongs to its own pytest run, venv and settings."""
    dropped_prefixes = ("PYTEST_", "ROADIE_", "DJANGO_")
    environment = {
        name: value for name, value in os.environ.items()
        if not name.startswith(dropped_prefixes) and name not in {"VIRTUAL_ENV", "PYTHONPATH", "DATABASE_URL"}
    }
    if "ROADIE_REDIS_SERVER" in os.environ:
        environment["ROADIE_REDIS_SERVER"] = os.environ["ROADIE_REDIS_SERVER"]
    return environment


# Within the timeout: venv 60 s, pip 300 s, version check 60 s, test run 400 s.
@pytest.mark.timeout(900)
def test_django_modules_pass_under_django_6() -> None:
    try:
        import django

        if django.VERSION >= (6,):
            pytest.skip("this run's own Django is 6 or newer, so the Django modules already ran on it")
    except ImportError:
        pass
    python = python_312_or_newer()
    if python is None:
        pytest.skip("Django 6 needs Python 3.12 or newer, and none was found on PATH or in pyenv")
    prepare_venv(python)
    environment = clean_environment()

    versions = subprocess.run(
        [str(VENV_PYTHON), "-c",
         "import django, importlib.util; "
         "print(django.get_version(), importlib.util.find_spec('django_tasks') is not None)"],
        capture_output=True, text=True, env=environment, timeout=60, check=True,
    )
    django_version, has_backport = versions.stdout.split()
    assert int(django_version.split(".")[0]) >= 6, django_version
    # Without the backport, the backend can only have been built on django.tasks.
    assert has_backport == "False"

    run = subprocess.run(
        [str(VENV_PYTHON), "-m", "pytest", *TEST_IDS, "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=REPO, capture_output=True, text=True, env=environment, timeout=400,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, f"Django {django_version} run failed:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
    assert "passed" in summary, summary
    assert "skipped" not in summary, summary
