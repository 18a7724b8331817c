"""Find Ruby Sidekiq for the interop tests, installing Debian's packages when missing.

The interop tests need ``ruby``, the ``sidekiq`` executable of the Ruby gem,
and WEBrick to serve Sidekiq's Web UI. Debian 12 ships them as
``ruby-sidekiq`` (6.4.1, with Rack 2.2 and the redis gem 4.8) and
``ruby-webrick``. When they are missing and this process may run apt
(root, ``apt-get`` on PATH), :func:`ensure_sidekiq` installs them once per
machine. An exclusive lock file keeps parallel test processes from running
apt at the same time. The process that waited for the lock then finds the
packages installed. Without apt the caller skips the tests with the message of
:class:`SidekiqUnavailable`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["APT_PACKAGES", "SidekiqTools", "SidekiqUnavailable", "ensure_sidekiq", "find_sidekiq"]

# ruby-sidekiq pulls in ruby, rack, the redis gem and connection_pool.
# ruby-webrick serves Sidekiq::Web; Debian 12 has no ruby-puma or ruby-rackup.
# ruby-redis-namespace gives Sidekiq 6 its key prefix, for the namespace tests.
APT_PACKAGES = ("ruby-sidekiq", "ruby-webrick", "ruby-redis-namespace")

LOCK_PATH = Path("/tmp/roadie-interop-apt.lock")

# apt-get update plus the install of about 17 small packages; generous for slow mirrors.
APT_TIMEOUT_SECONDS = 900


class SidekiqUnavailable(RuntimeError):
    """Ruby Sidekiq is missing and this process cannot install it."""


@dataclass(frozen=True)
class SidekiqTools:
    """Paths of the Ruby executables, and the Sidekiq version they load."""

    ruby: str
    sidekiq: str
    version: str


def find_sidekiq() -> SidekiqTools | None:
    """Return the installed tools, or None when ruby, sidekiq, WEBrick or redis-namespace is missing."""
    ruby = shutil.which("ruby")
    sidekiq = shutil.which("sidekiq")
    if ruby is None or sidekiq is None:
        return None
    probe = subprocess.run(
        [ruby, "-e", 'require "sidekiq"; require "webrick"; require "redis/namespace"; print Sidekiq::VERSION'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return None
    return SidekiqTools(ruby=ruby, sidekiq=sidekiq, version=probe.stdout.strip())


def _apt_unavailable_reason() -> str | None:
    if shutil.which("apt-get") is None:
        return "apt-get is not on PATH"
    if os.geteuid() != 0:
        return "this process is not root, so it cannot run apt-get"
    return None


def _run_apt(arguments: list[str]) -> None:
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = subprocess.run(
        ["apt-get", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        timeout=APT_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stdout.strip().splitlines()[-20:])
        raise RuntimeError(f"apt-get {' '.join(arguments)} failed with exit code {result.returncode}:\n{tail}")


def _install() -> None:
    print(
        f"roadie interop tests: installing {' '.join(APT_PACKAGES)} with apt-get (once per machine)",
        file=sys.stderr,
        flush=True,
    )
    _run_apt(["update", "-qq"])
    _run_apt(["install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES])


def ensure_sidekiq() -> SidekiqTools:
    """Return the Ruby tools, installing the Debian packages first when they are missing.

    Raises SidekiqUnavailable when they are missing and apt cannot run, and
    RuntimeError when apt runs but fails (a real error, not a reason to skip).
    """
    tools = find_sidekiq()
    if tools is not None:
        return tools

    reason = _apt_unavailable_reason()
    if reason is not None:
        raise SidekiqUnavailable(
            f"Ruby Sidekiq is not installed and {reason}. Install it as root with "
            f"'apt-get install --no-install-recommends {' '.join(APT_PACKAGES)}' "
            f"to run the Sidekiq interop tests."
        )

    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Another process may have installed the packages while this one waited for the lock.
        tools = find_sidekiq()
        if tools is None:
            _install()
            tools = find_sidekiq()
    if tools is None:
        raise RuntimeError(
            f"apt-get installed {' '.join(APT_PACKAGES)}, but 'ruby' and 'sidekiq' are still not on PATH "
            f"or cannot load Sidekiq and WEBrick"
        )
    return tools


if __name__ == "__main__":
    found = ensure_sidekiq()
    print(f"ruby: {found.ruby}\nsidekiq: {found.sidekiq}\nSidekiq version: {found.version}")
