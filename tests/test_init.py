"""Tests for the top-level ``roadie`` package: lazy imports and the public names."""

from __future__ import annotations

import subprocess
import sys

import pytest

import roadie


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


def test_import_loads_no_redis() -> None:
    result = run_python("import roadie, sys; assert 'redis' not in sys.modules, 'redis was imported'")

    assert result.returncode == 0, result.stderr


def test_import_loads_no_submodules() -> None:
    code = (
        "import roadie, sys\n"
        "loaded = sorted(name for name in sys.modules if name.startswith('roadie.'))\n"
        "print(loaded)\n"
        "assert loaded == ['roadie._version'], loaded\n"
    )

    result = run_python(code)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", roadie.__all__)
def test_all_names_resolve(name: str) -> None:
    assert getattr(roadie, name) is not None


def test_all_names_unique() -> None:
    assert len(roadie.__all__) == len(set(roadie.__all__))


def test_dir_lists_public_names() -> None:
    assert set(roadie.__all__) <= set(dir(roadie))


def test_unknown_attribute_raises() -> None:
    with pytest.raises(AttributeError, match="no attribute 'perform'"):
        roadie.perform  # noqa: B018


def test_job_after_importing_jobs() -> None:
    code = (
        "import roadie.jobs\n"
        "import roadie\n"
        "assert roadie.job is roadie.jobs.job, roadie.job\n"
        "assert callable(roadie.job)\n"
    )

    result = run_python(code)

    assert result.returncode == 0, result.stderr


def test_job_is_decorator_here() -> None:
    import roadie.jobs

    assert roadie.job is roadie.jobs.job
    assert roadie.JobFunction is roadie.jobs.JobFunction


def test_lazy_names_match_modules() -> None:
    from roadie import client, errors

    assert roadie.Client is client.Client
    assert roadie.configure is client.configure
    assert roadie.Retry is errors.Retry
    assert issubclass(roadie.JobArgumentError, roadie.RoadieError)
