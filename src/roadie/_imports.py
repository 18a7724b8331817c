"""Import user code by dotted name or file path, with errors that name the fix."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from roadie.errors import ConfigError

__all__ = ["import_module_or_path", "import_string", "module_name_for_path"]


def import_string(dotted: str) -> Any:
    """Import ``package.module:attr`` or ``package.module.attr`` and return the attribute."""
    if ":" in dotted:
        module_name, _, attr = dotted.partition(":")
    else:
        module_name, _, attr = dotted.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(f"invalid import path {dotted!r}: expected 'package.module:attribute'")
    module = _import_module(module_name, dotted)
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"cannot import {dotted!r}: module {module_name!r} has no attribute {attr!r}") from None
    return target


def module_name_for_path(path: str) -> str:
    """Return the module name a ``.py`` file is imported under: its file name without the suffix."""
    return os.path.splitext(os.path.basename(path))[0]


def import_module_or_path(target: str) -> ModuleType:
    """Import a module by dotted name, or a ``.py`` file by path.

    A file is imported under its bare file name (``jobs.py`` becomes module
    ``jobs``) with its folder put first on ``sys.path``, so that a job defined
    in a script run as ``python jobs.py`` gets the same name on both sides.
    """
    if target.endswith(".py") or os.sep in target:
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise ConfigError(f"cannot import {target!r}: no such file; pass a module name or the path of a .py file")
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        return _import_module(module_name_for_path(path), target)
    if os.path.isdir(target):
        raise ConfigError(f"cannot import {target!r}: it is a folder; pass a module name or the path of a .py file")
    return _import_module(target, target)


def _import_module(name: str, requested: str) -> ModuleType:
    if "" not in sys.path and os.getcwd() not in sys.path:
        # Console scripts start without the working directory on sys.path, but
        # `roadie worker -r app.jobs` is expected to find the project's modules.
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only the requested module or one of its parent packages counts as
        # not found; a missing import inside user code keeps its own error.
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise ConfigError(
                f"cannot import {requested!r}: module {exc.name!r} not found; "
                "run from the project folder or add it to PYTHONPATH"
            ) from exc
        raise
