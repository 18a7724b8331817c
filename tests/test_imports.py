"""Tests for importing user code by dotted name, ``module:attr`` or file path."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from roadie._imports import import_module_or_path, import_string, module_name_for_path
from roadie.errors import ConfigError


@pytest.fixture(autouse=True)
def restore_import_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo the sys.path entries and modules a test adds."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write_module(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# ------------------------------------------------------------ import_string


def test_import_string_dotted() -> None:
    assert import_string("os.path.join") is os.path.join


def test_import_string_colon_form() -> None:
    assert import_string("os.path:join") is os.path.join


def test_import_string_colon_nested_attribute() -> None:
    assert import_string("roadie.config:Settings.load").__name__ == "load"


def test_import_string_missing_module() -> None:
    with pytest.raises(ConfigError) as info:
        import_string("roadie_no_such_module:thing")

    message = str(info.value)
    assert "module 'roadie_no_such_module' not found" in message
    assert "PYTHONPATH" in message


def test_import_string_missing_attribute() -> None:
    with pytest.raises(ConfigError) as info:
        import_string("os.path:no_such_function")

    message = str(info.value)
    assert "'os.path'" in message
    assert "no attribute 'no_such_function'" in message


@pytest.mark.parametrize("dotted", ["nodots", "module:", ":attr"])
def test_import_string_invalid_path(dotted: str) -> None:
    with pytest.raises(ConfigError, match="invalid import path"):
        import_string(dotted)


# ---------------------------------------------------- import_module_or_path


def test_import_dotted_module() -> None:
    module = import_module_or_path("roadie.retry")

    assert module.__name__ == "roadie.retry"


def test_import_py_file_by_file_name(tmp_path: Path) -> None:
    path = write_module(tmp_path, "roadie_test_shop_jobs", "VALUE = 41 + 1\n")

    module = import_module_or_path(str(path))

    assert module.__name__ == "roadie_test_shop_jobs"
    assert module.VALUE == 42
    assert sys.path[0] == str(tmp_path)


def test_import_py_file_siblings_importable(tmp_path: Path) -> None:
    write_module(tmp_path, "roadie_test_helpers", "ANSWER = 7\n")
    path = write_module(tmp_path, "roadie_test_main_jobs", "from roadie_test_helpers import ANSWER\n")

    assert import_module_or_path(str(path)).ANSWER == 7


def test_import_relative_py_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_module(tmp_path, "roadie_test_relative", "NAME = 'relative'\n")
    monkeypatch.chdir(tmp_path)

    assert import_module_or_path("roadie_test_relative.py").NAME == "relative"


def test_import_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        import_module_or_path(str(tmp_path / "absent.py"))


def test_import_folder_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "jobsdir").mkdir()
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError, match="is a folder"):
        import_module_or_path("jobsdir")


def test_import_missing_module_fix() -> None:
    with pytest.raises(ConfigError) as info:
        import_module_or_path("roadie_missing_app.jobs")

    message = str(info.value)
    assert "cannot import 'roadie_missing_app.jobs'" in message
    assert "module 'roadie_missing_app' not found" in message
    assert "run from the project folder" in message


def test_import_missing_dependency_kept(tmp_path: Path) -> None:
    # A module that exists but imports a missing package keeps the original
    # error, even when the missing name is a prefix of the module's name.
    path = write_module(tmp_path, "roadie_dep_jobs", "import roadie_dep\n")
    sys.path.insert(0, str(tmp_path))

    with pytest.raises(ModuleNotFoundError) as info:
        import_module_or_path(path.stem)

    assert info.value.name == "roadie_dep"
    assert not isinstance(info.value, ConfigError)


def test_module_name_for_path() -> None:
    assert module_name_for_path("/srv/app/jobs.py") == "jobs"
    assert module_name_for_path("worker_jobs.py") == "worker_jobs"
