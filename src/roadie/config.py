"""Settings: one table of defaults, read from roadie.yml, the environment and flags.

Precedence, lowest first: the defaults in :data:`SETTINGS`, the YAML file (its
top level, then the section named after the environment), environment
variables (``REDIS_URL``, ``REDIS_PROVIDER``, ``ROADIE_<SETTING>``), and last
the keyword arguments or CLI flags. A key or ``ROADIE_`` variable that names
no setting is an error, so a typo never passes silently.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from roadie.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "CONFIG_FILE_NAMES",
    "SETTINGS",
    "QueueSpec",
    "Setting",
    "Settings",
    "find_config_file",
    "parse_queue",
    "redact_url",
    "resolve_redis_url",
    "validate_queue_name",
]

DEFAULT_REDIS_URL = "redis://localhost:6379/0"

# Looked up in the working directory, in this order, when no file is given.
CONFIG_FILE_NAMES = ("roadie.yml", "roadie.yaml", "config/roadie.yml", "config/roadie.yaml")

# Environment variables with the ROADIE_ prefix that are not settings.
_OTHER_ROADIE_VARIABLES = frozenset({"ROADIE_REDIS_SERVER", "ROADIE_ENV", "ROADIE_CONFIG", "ROADIE_WEB_USERNAME", "ROADIE_WEB_PASSWORD"})

# The characters Sidekiq's Web UI accepts in a queue name; a queue outside
# this set could not be opened in either dashboard.
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_:.\-]+")

_EXPANSION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class QueueSpec:
    """A queue to fetch from, and its weight (0 for strict order)."""

    name: str
    weight: int = 0

    def __str__(self) -> str:
        return f"{self.name},{self.weight}" if self.weight else self.name


# ---------------------------------------------------------------- value parsers
# Each parser takes a value from YAML (already typed), from an environment
# variable or a flag (a string), or from Python code, and returns the typed
# value or raises ValueError with what was expected.


def _parse_str(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError("expected a string")
    return str(value)


def _parse_optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _parse_str(value)


def _parse_int(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"expected an integer >= {minimum}")
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ValueError(f"expected an integer >= {minimum}") from None
        if not isinstance(value, int) or value < minimum:
            raise ValueError(f"expected an integer >= {minimum}")
        return value

    return parse


def _parse_seconds(minimum: float, maximum: float = float("inf")) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number of seconds between {minimum} and {maximum}")
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(f"expected a number of seconds between {minimum} and {maximum}") from None
        if not isinstance(value, (int, float)) or not minimum <= value <= maximum:
            raise ValueError(f"expected a number of seconds between {minimum} and {maximum}")
        return float(value)

    return parse


def _parse_optional_seconds(minimum: float) -> Callable[[Any], float | None]:
    parse_seconds = _parse_seconds(minimum)

    def parse(value: Any) -> float | None:
        if value is None or value == "":
            return None
        return parse_seconds(value)

    return parse


def _parse_optional_int(minimum: int) -> Callable[[Any], int | None]:
    parse_int = _parse_int(minimum)

    def parse(value: Any) -> int | None:
        if value is None or value == "":
            return None
        return parse_int(value)

    return parse


def _parse_choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value.lower()

    return parse


def _parse_str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[\s,]+", value) if part)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError("expected a list of strings")


def validate_queue_name(name: Any) -> str:
    """Return ``name`` if it is a valid queue name, else raise ValueError saying why."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"queue name must be a non-empty string, got {name!r}")
    if not _QUEUE_NAME.fullmatch(name):
        raise ValueError(f"queue name {name!r} may contain only letters, digits and _ : . -")
    return name


def parse_queue(value: Any) -> QueueSpec:
    """Parse one queue entry: ``"name"``, ``"name,weight"``, ``[name]`` or ``[name, weight]``."""
    if isinstance(value, QueueSpec):
        return value
    if isinstance(value, str):
        name, _, weight_text = value.partition(",")
        name = name.strip()
        weight_text = weight_text.strip()
    elif isinstance(value, (list, tuple)) and 1 <= len(value) <= 2:
        name = value[0]
        weight_text = str(value[1]) if len(value) == 2 else ""
    else:
        raise ValueError(f"queue entry {value!r}: expected 'name', 'name,weight' or [name, weight]")
    validate_queue_name(name)
    try:
        weight = int(weight_text) if weight_text else 0
    except ValueError:
        raise ValueError(f"queue entry {value!r}: weight {weight_text!r} is not an integer") from None
    if weight < 0:
        raise ValueError(f"queue entry {value!r}: weight must be >= 0")
    return QueueSpec(name, weight)


def _parse_queues(value: Any) -> tuple[QueueSpec, ...]:
    if isinstance(value, str):
        entries: Sequence[Any] = value.split()
    elif isinstance(value, (list, tuple)):
        entries = value
    else:
        raise ValueError("expected a list of queue entries such as ['critical,2', 'default']")
    queues = tuple(parse_queue(entry) for entry in entries)
    if not queues:
        raise ValueError("expected at least one queue")
    names = [queue.name for queue in queues]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"queue {duplicates[0]!r} is listed twice; give it once, with a weight")
    return queues


# ----------------------------------------------------------------- the table


@dataclass(frozen=True)
class Setting:
    """One setting: its name (the YAML key), default, parser and help text.

    ``flags`` are the CLI options of ``roadie worker`` that set it; the CLI
    builds them and their help from this table.
    """

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    flags: tuple[str, ...] = ()
    metavar: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def env_var(self) -> str:
        return f"ROADIE_{self.name.upper()}"


_DAY = 86_400.0

SETTINGS: tuple[Setting, ...] = (
    Setting("redis_url", None, _parse_optional_str,
            "Redis URL; default: $REDIS_URL, or the variable $REDIS_PROVIDER names, else " + DEFAULT_REDIS_URL,
            ("--redis-url",), "URL"),
    Setting("namespace", "", _parse_str,
            "prefix for every key, as Sidekiq 6 with redis-namespace wrote them", ("--namespace",), "PREFIX"),
    Setting("concurrency", 10, _parse_int(1), "threads that run sync jobs", ("-c", "--concurrency"), "INT"),
    Setting("async_concurrency", None, _parse_optional_int(1),
            "async jobs run at once on the event loop; default: the same as concurrency",
            ("--async-concurrency",), "INT"),
    Setting("queues", (QueueSpec("default"),), _parse_queues,
            "queue to fetch from, with an optional weight; repeat for more (no weights: strict order)",
            ("-q", "--queue"), "NAME[,WEIGHT]"),
    Setting("prefetch_wait", 0.005, _parse_seconds(0.0, 1.0),
            "seconds a job fetched ahead of free slots may expect to wait; while jobs are short the worker "
            "fetches up to 10 per slot ahead, so fewer round trips carry more jobs (0: only for free slots)",
            ("--prefetch-wait",), "SECONDS"),
    Setting("timeout", 25.0, _parse_seconds(0.0, 86_400.0),
            "seconds running jobs get to finish at shutdown before they are pushed back", ("-t", "--timeout"),
            "SECONDS"),
    Setting("tag", None, _parse_optional_str,
            "process tag shown in the dashboard; default: the working directory's name", ("-g", "--tag"), "TAG"),
    Setting("labels", (), _parse_str_list, "label shown in the dashboard; repeat for more", ("--label",), "LABEL"),
    Setting("environment", "development", _parse_str,
            "environment section of roadie.yml to apply; default: $ROADIE_ENVIRONMENT, $ROADIE_ENV, $APP_ENV, "
            "else development",
            ("-e", "--environment"), "ENV"),
    Setting("require", (), _parse_str_list,
            "module name or .py file that defines jobs; repeat for more", ("-r", "--require"), "MODULE|PATH"),
    Setting("max_retries", 25, _parse_int(0), "retries of a job with retry=True", (), "INT"),
    Setting("dead_max_jobs", 10_000, _parse_int(1), "maximum size of the dead set", (), "INT"),
    Setting("dead_timeout", 180 * _DAY, _parse_seconds(1.0),
            "seconds a job stays in the dead set", (), "SECONDS", ("dead_timeout_in_seconds",)),
    Setting("average_scheduled_poll_interval", 0.5, _parse_seconds(0.05, 3600.0),
            "average seconds between scheduled-set polls, multiplied by the number of processes", (), "SECONDS"),
    Setting("poll_interval_average", None, _parse_optional_seconds(0.05),
            "fixed average seconds between polls of one process, whatever the process count", (), "SECONDS"),
    Setting("heartbeat_interval", 5.0, _parse_seconds(0.5, 20.0),
            "seconds between heartbeats (process records expire after 60 s)", (), "SECONDS"),
    Setting("recovery_timeout", 30.0, _parse_seconds(1.0, 3600.0),
            "seconds without a heartbeat after which a process's in-progress jobs return to their queues",
            (), "SECONDS"),
    Setting("max_payload_bytes", 1_048_576, _parse_int(1),
            "job size in bytes above which enqueueing logs a warning", (), "BYTES"),
    Setting("log_level", "info", _parse_choice("debug", "info", "warning", "error"),
            "log level; per-job lines are logged at info", ("-l", "--log-level"), "LEVEL"),
    Setting("log_format", "text", _parse_choice("text", "json"), "log line format", ("--log-format",), "FORMAT"),
)

_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
_ALIASES: dict[str, str] = {alias: setting.name for setting in SETTINGS for alias in setting.aliases}


def _default(name: str) -> Any:
    return _BY_NAME[name].default


# ------------------------------------------------------------------ Settings


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :meth:`load` to read file and environment, or directly.

    >>> Settings(concurrency=20, queues=["critical,2", "default"])
    """

    redis_url: str | None = _default("redis_url")
    namespace: str = _default("namespace")
    concurrency: int = _default("concurrency")
    async_concurrency: int | None = _default("async_concurrency")
    queues: tuple[QueueSpec, ...] = _default("queues")
    prefetch_wait: float = _default("prefetch_wait")
    timeout: float = _default("timeout")
    tag: str | None = _default("tag")
    labels: tuple[str, ...] = _default("labels")
    environment: str = _default("environment")
    require: tuple[str, ...] = _default("require")
    max_retries: int = _default("max_retries")
    dead_max_jobs: int = _default("dead_max_jobs")
    dead_timeout: float = _default("dead_timeout")
    average_scheduled_poll_interval: float = _default("average_scheduled_poll_interval")
    poll_interval_average: float | None = _default("poll_interval_average")
    heartbeat_interval: float = _default("heartbeat_interval")
    recovery_timeout: float = _default("recovery_timeout")
    max_payload_bytes: int = _default("max_payload_bytes")
    log_level: str = _default("log_level")
    log_format: str = _default("log_format")
    source: str = field(default="defaults", compare=False)

    def __post_init__(self) -> None:
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            try:
                parsed = setting.parse(value)
            except ValueError as exc:
                raise ConfigError(f"invalid value for setting {setting.name!r}: {value!r}; {exc}") from None
            object.__setattr__(self, setting.name, parsed)
        if self.recovery_timeout <= self.heartbeat_interval:
            raise ConfigError(
                f"recovery_timeout ({self.recovery_timeout} s) must exceed heartbeat_interval "
                f"({self.heartbeat_interval} s), or live processes would lose their jobs"
            )

    @property
    def resolved_redis_url(self) -> str:
        """Return the Redis URL to connect to: the setting, else the default."""
        return self.redis_url or DEFAULT_REDIS_URL

    @property
    def resolved_async_concurrency(self) -> int:
        return self.async_concurrency if self.async_concurrency is not None else self.concurrency

    @property
    def strict_queues(self) -> bool:
        """True when no queue has a weight, so queues are fetched in the order given."""
        return all(queue.weight == 0 for queue in self.queues)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied and validated."""
        unknown = sorted(set(changes) - set(_BY_NAME))
        if unknown:
            raise ConfigError(_unknown_message(unknown[0], "keyword argument"))
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as plain values, with the Redis password redacted."""
        values: dict[str, Any] = {setting.name: getattr(self, setting.name) for setting in SETTINGS}
        values["queues"] = [str(queue) for queue in self.queues]
        values["labels"] = list(self.labels)
        values["require"] = list(self.require)
        if values["redis_url"]:
            values["redis_url"] = redact_url(values["redis_url"])
        return values

    @classmethod
    def load(
        cls,
        config_file: str | os.PathLike[str] | None = None,
        *,
        environment: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        search: bool = True,
    ) -> Settings:
        """Build settings from defaults, the YAML file, environment variables and ``overrides``.

        Without ``config_file``, ``$ROADIE_CONFIG`` or the first of
        :data:`CONFIG_FILE_NAMES` in the working directory is read, unless
        ``search`` is false. ``overrides`` hold flag or keyword values; None
        values are ignored, so unset flags do not mask the file.
        """
        env = os.environ if env is None else env
        overrides = {key: value for key, value in (overrides or {}).items() if value is not None}
        unknown = sorted(set(overrides) - set(_BY_NAME))
        if unknown:
            raise ConfigError(_unknown_message(unknown[0], "setting"))

        chosen = environment or overrides.get("environment")
        environment = chosen or _environment_from(env)
        path = os.fspath(config_file) if config_file is not None else env.get("ROADIE_CONFIG")
        if path is None and search:
            path = find_config_file()
        values: dict[str, Any] = {}
        sources = ["defaults"]
        if path is not None:
            explicit = bool(chosen) or environment != _DEFAULT_ENVIRONMENT
            values.update(_read_file(path, environment, env, explicit=explicit))
            sources.append(path)
        from_env = _read_environment(env)
        if from_env:
            values.update(from_env)
            sources.append("environment")
        values.update(overrides)
        if overrides:
            sources.append("arguments")
        values["environment"] = environment
        return cls(**values, source=" < ".join(sources))


def _unknown_message(key: str, kind: str) -> str:
    valid = ", ".join(sorted(_BY_NAME))
    if kind == "key":
        # In a file, `environment` is a section name rather than a key, and `verbose` is accepted.
        valid = ", ".join(sorted((set(_BY_NAME) - {"environment"}) | {"verbose"}))
    return f"unknown {kind} {key!r}; valid settings are: {valid}"


_DEFAULT_ENVIRONMENT = "development"


def _environment_from(env: Mapping[str, str]) -> str:
    return env.get("ROADIE_ENVIRONMENT") or env.get("ROADIE_ENV") or env.get("APP_ENV") or _DEFAULT_ENVIRONMENT


# ------------------------------------------------------------------ sources


def find_config_file(directory: str | None = None) -> str | None:
    """Return the first of :data:`CONFIG_FILE_NAMES` that exists in ``directory`` (default: cwd)."""
    base = directory or os.getcwd()
    for name in CONFIG_FILE_NAMES:
        candidate = os.path.join(base, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def _read_file(path: str, environment: str, env: Mapping[str, str], *, explicit: bool = False) -> dict[str, Any]:
    """Read ``path``: its top level, then the section named ``environment``.

    ``explicit`` is true when a flag or a variable chose the environment.
    Then a file whose sections do not include it probably has a misspelling,
    which is logged as a warning.
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path!r} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {path!r} is not valid YAML: {exc}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"configuration file {path!r} must contain a mapping of settings at the top level")

    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for raw_key, value in document.items():
        key = _normalize_key(raw_key)
        if key in _BY_NAME or key in _ALIASES:
            top[key] = value
        elif key == "verbose":
            top[key] = value
        elif isinstance(value, dict):
            # A mapping under a name that is no setting is an environment
            # section, such as `production:`.
            sections[key] = {_normalize_key(k): v for k, v in value.items()}
        else:
            raise ConfigError(f"{path}: {_unknown_message(str(raw_key), 'key')}")

    values = _check_keys(top, path)
    for name, section in sections.items():
        checked = _check_keys(section, f"{path} section {name!r}")
        if name == environment:
            values.update(checked)
    if explicit and sections and environment not in sections:
        logger.warning("%s has no section for environment %r (its sections: %s); only its top level applies",
                       path, environment, ", ".join(sorted(sections)))
    return {key: _expand(value, path, key, env) for key, value in values.items()}


def _normalize_key(key: Any) -> str:
    # Sidekiq files often write symbol keys such as `:concurrency:`.
    text = str(key)
    return text[1:] if text.startswith(":") else text


def _check_keys(mapping: dict[str, Any], where: str) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in mapping.items():
        if key == "verbose":
            if value:
                checked["log_level"] = "debug"
            continue
        name = _ALIASES.get(key, key)
        if name not in _BY_NAME:
            raise ConfigError(f"{where}: {_unknown_message(key, 'key')}")
        if name == "environment":
            raise ConfigError(f"{where}: 'environment' cannot be set in the file; use -e or $APP_ENV")
        checked[name] = value
    return checked


def _expand(value: Any, path: str, key: str, env: Mapping[str, str]) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in string values, recursively."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{path}: key {key!r} uses ${{{name}}} but environment variable {name} is not set; "
                f"set it or write ${{{name}:-default}}"
            )

        return _EXPANSION.sub(substitute, value)
    if isinstance(value, list):
        return [_expand(item, path, key, env) for item in value]
    return value


def _read_environment(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    url = resolve_redis_url(env)
    if url:
        values["redis_url"] = url
    for variable, text in env.items():
        if not variable.startswith("ROADIE_") or variable in _OTHER_ROADIE_VARIABLES:
            continue
        name = variable[len("ROADIE_"):].lower()
        if name == "environment":
            continue
        if name not in _BY_NAME:
            raise ConfigError(
                f"unknown environment variable {variable}; "
                f"valid ones are ROADIE_ plus an upper-case setting name: {', '.join(sorted(_BY_NAME))}"
            )
        setting = _BY_NAME[name]
        try:
            values[name] = setting.parse(text)
        except ValueError as exc:
            raise ConfigError(f"invalid value for environment variable {variable}: {text!r}; {exc}") from None
    return values


def resolve_redis_url(env: Mapping[str, str] | None = None) -> str | None:
    """Return the Redis URL from the environment, as Sidekiq finds it, or None.

    ``ROADIE_REDIS_URL`` comes first. Then ``REDIS_PROVIDER`` may name
    another variable that contains the URL (it must be a name, not a URL),
    with ``REDIS_URL`` as the fallback.
    """
    env = os.environ if env is None else env
    if env.get("ROADIE_REDIS_URL"):
        return env["ROADIE_REDIS_URL"]
    provider = env.get("REDIS_PROVIDER")
    if provider:
        if ":" in provider:
            raise ConfigError(
                "REDIS_PROVIDER must be the name of the environment variable that contains the Redis URL "
                "(for example REDIS_PROVIDER=REDISCLOUD_URL), not the URL itself; put the URL in REDIS_URL"
            )
        if env.get(provider):
            return env[provider]
    return env.get("REDIS_URL") or None


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, safe for logs and errors.

    Works on multi-host URLs such as ``redis+sentinel://:pw@h1:26379,h2:26379/mymaster``
    and leaves the hosts, path and query readable. Query parameters named
    ``password`` or ending in ``_password`` are redacted too.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hosts}"
    else:
        netloc = parts.netloc
    query = "&".join(
        f"{name}=***" if name == "password" or name.endswith("_password") else f"{name}{sep}{value}"
        for name, sep, value in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
