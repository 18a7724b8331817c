"""Run the ``roadie`` command from a framework's command line, with the framework's settings.

The ``roadie`` command reads its settings from roadie.yml, the environment
and its flags. A framework keeps them in its own configuration instead
(Flask's ``app.config["ROADIE"]``, Django's ``settings.ROADIE``), so the
forwarding commands pass those on as ``ROADIE_<NAME>`` environment
variables. The precedence is then: defaults < roadie.yml < environment <
framework configuration < flags.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from roadie.config import QueueSpec, Settings

__all__ = ["environment_for", "run_roadie_command"]


def environment_for(settings: Settings, names: Iterable[str]) -> dict[str, str]:
    """Return the ``ROADIE_<NAME>`` variables that carry the settings ``names`` to the roadie command."""
    environment: dict[str, str] = {}
    for name in names:
        value = getattr(settings, name)
        if value is None:
            continue
        environment[f"ROADIE_{name.upper()}"] = _as_text(value)
    return environment


def run_roadie_command(args: Sequence[str], *, prog_name: str, environment: Mapping[str, str]) -> NoReturn:
    """Run ``roadie ARGS...`` in this process with ``environment`` added, and exit with its status.

    Raises SystemExit like any click command run standalone. The variables
    are removed again before that, so a caller that catches it (a test
    runner) keeps its environment.
    """
    from roadie.cli.main import cli

    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        cli.main(args=list(args), prog_name=prog_name)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    raise SystemExit(0)  # cli.main exits on its own; this line only satisfies NoReturn


def _as_text(value: Any) -> str:
    # Each form below is what the setting's parser in roadie.config reads
    # back from an environment variable.
    if isinstance(value, tuple) and all(isinstance(item, QueueSpec) for item in value):
        return " ".join(str(queue) for queue in value)
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)
