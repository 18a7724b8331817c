"""The Lua scripts in ``lua/``, loaded once and run by SHA.

Each ``.lua`` file opens with the KEYS and ARGV it takes and what it returns.
redis-py's script objects send EVALSHA and fall back to loading the script
when the server returns a NOSCRIPT error, as after a restart.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

__all__ = ["SCRIPT_NAMES", "script_source", "scripts_for"]

SCRIPT_NAMES = ("fetch", "requeue", "recover", "enqueue_due", "finish", "push_entry", "kill_entries", "ack")


@functools.cache
def script_source(name: str) -> str:
    """Return the text of ``lua/<name>.lua``."""
    if name not in SCRIPT_NAMES:
        raise KeyError(f"unknown Lua script {name!r}; known: {', '.join(SCRIPT_NAMES)}")
    return resources.files("roadie.storage").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def scripts_for(connection: Any) -> dict[str, Any]:
    """Register every script on a redis-py client (sync or asyncio) and return them by name."""
    return {name: connection.register_script(script_source(name)) for name in SCRIPT_NAMES}
