"""Tests for settings: defaults, roadie.yml, environment variables and their precedence.

Every load passes ``env`` explicitly and either a file in a temporary folder
or ``search=False``, so the machine's environment and working directory never
change a result.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from roadie.config import (
    DEFAULT_REDIS_URL,
    SETTINGS,
    QueueSpec,
    Settings,
    find_config_file,
    parse_queue,
    redact_url,
    resolve_redis_url,
    validate_queue_name,
)
from roadie.errors import ConfigError


def write_config(folder: Path, text: str, name: str = "roadie.yml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(path: Path | None = None, env: dict[str, str] | None = None, **kwargs: object) -> Settings:
    return Settings.load(path, env=env or {}, search=False, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------- defaults


def test_defaults_without_sources() -> None:
    settings = load()

    assert settings.redis_url is None
    assert settings.resolved_redis_url == DEFAULT_REDIS_URL
    assert settings.concurrency == 10
    assert settings.queues == (QueueSpec("default"),)
    assert settings.timeout == 25.0
    assert settings.max_retries == 25
    assert settings.dead_max_jobs == 10_000
    assert settings.dead_timeout == 180 * 86_400.0
    assert settings.environment == "development"
    assert settings.log_level == "info"
    assert settings.source == "defaults"


def test_defaults_match_settings_table() -> None:
    settings = Settings()

    for setting in SETTINGS:
        assert getattr(settings, setting.name) == setting.default, setting.name


def test_async_concurrency_follows_concurrency() -> None:
    assert Settings(concurrency=7).resolved_async_concurrency == 7
    assert Settings(concurrency=7, async_concurrency=100).resolved_async_concurrency == 100


# ---------------------------------------------------------------- YAML file


def test_file_sidekiq_colon_keys(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        :concurrency: 5
        :timeout: 8
        :queues:
          - critical
        """,
    )

    settings = load(path)

    assert settings.concurrency == 5
    assert settings.timeout == 8.0
    assert settings.queues == (QueueSpec("critical"),)
    assert settings.source == f"defaults < {path}"


def test_file_empty_gives_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, "")

    assert load(path).concurrency == 10


ENVIRONMENT_FILE = """
    concurrency: 5
    production:
      :concurrency: 50
      tag: prod
    staging:
      concurrency: 20
    """


def test_file_environment_section_applied(tmp_path: Path) -> None:
    path = write_config(tmp_path, ENVIRONMENT_FILE)

    settings = load(path, environment="production")

    assert settings.concurrency == 50
    assert settings.tag == "prod"
    assert settings.environment == "production"


def test_file_other_section_ignored(tmp_path: Path) -> None:
    path = write_config(tmp_path, ENVIRONMENT_FILE)

    settings = load(path)

    assert settings.concurrency == 5
    assert settings.tag is None


@pytest.mark.parametrize("variable", ["ROADIE_ENVIRONMENT", "ROADIE_ENV", "APP_ENV"])
def test_file_environment_from_variable(tmp_path: Path, variable: str) -> None:
    path = write_config(tmp_path, ENVIRONMENT_FILE)

    settings = load(path, env={variable: "staging"})

    assert settings.concurrency == 20
    assert settings.environment == "staging"


def test_file_expands_variables(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        redis_url: redis://${REDIS_HOST}:${REDIS_PORT:-6380}/2
        concurrency: ${WORKERS:-4}
        labels: ["${REGION:-eu}", fixed]
        """,
    )

    settings = load(path, env={"REDIS_HOST": "10.0.0.5"})

    assert settings.redis_url == "redis://10.0.0.5:6380/2"
    assert settings.concurrency == 4
    assert settings.labels == ("eu", "fixed")


def test_file_variable_beats_default(tmp_path: Path) -> None:
    path = write_config(tmp_path, "concurrency: ${WORKERS:-4}\n")

    assert load(path, env={"WORKERS": "12"}).concurrency == 12


def test_file_missing_variable_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "redis_url: redis://${REDIS_HOST}/0\n")

    with pytest.raises(ConfigError) as info:
        load(path)

    message = str(info.value)
    assert str(path) in message
    assert "'redis_url'" in message
    assert "REDIS_HOST is not set" in message
    assert "${REDIS_HOST:-default}" in message


def test_file_inactive_section_not_expanded(tmp_path: Path) -> None:
    path = write_config(tmp_path, "production:\n  redis_url: redis://${PROD_HOST}/0\n")

    assert load(path).redis_url is None


def test_file_unknown_key_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "concurency: 5\n")

    with pytest.raises(ConfigError) as info:
        load(path)

    message = str(info.value)
    assert str(path) in message
    assert "unknown key 'concurency'" in message
    assert "concurrency" in message.split("valid settings are:")[1]
    assert "redis_url" in message


def test_file_unknown_key_in_section(tmp_path: Path) -> None:
    # A mistake in another environment's section is reported too, so it is
    # found before that environment deploys.
    path = write_config(tmp_path, "production:\n  :concurency: 5\n")

    with pytest.raises(ConfigError) as info:
        load(path)

    message = str(info.value)
    assert "section 'production'" in message
    assert "unknown key 'concurency'" in message


def test_file_environment_key_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, "environment: production\n")

    with pytest.raises(ConfigError, match="'environment' cannot be set in the file"):
        load(path)


def test_file_dead_timeout_alias(tmp_path: Path) -> None:
    path = write_config(tmp_path, ":dead_timeout_in_seconds: 3600\n")

    assert load(path).dead_timeout == 3600.0


def test_file_verbose_sets_debug(tmp_path: Path) -> None:
    path = write_config(tmp_path, "verbose: true\n")

    assert load(path).log_level == "debug"


def test_file_verbose_false_keeps_info(tmp_path: Path) -> None:
    path = write_config(tmp_path, ":verbose: false\n")

    assert load(path).log_level == "info"


def test_file_queue_syntaxes(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        queues:
          - critical
          - [high, 2]
          - "default,3"
          - [low]
        """,
    )

    settings = load(path)

    assert settings.queues == (
        QueueSpec("critical", 0),
        QueueSpec("high", 2),
        QueueSpec("default", 3),
        QueueSpec("low", 0),
    )
    assert settings.strict_queues is False


def test_file_duplicate_queue_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "queues:\n  - default\n  - [default, 2]\n")

    with pytest.raises(ConfigError) as info:
        load(path)

    message = str(info.value)
    assert "'queues'" in message
    assert "queue 'default' is listed twice" in message


@pytest.mark.parametrize("name", ["has space", "slash/name", "ünïcode", ""])
def test_file_invalid_queue_name(tmp_path: Path, name: str) -> None:
    path = write_config(tmp_path, f'queues:\n  - "{name}"\n')

    with pytest.raises(ConfigError, match="'queues'"):
        load(path)


def test_file_not_yaml_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "concurrency: [unclosed\n")

    with pytest.raises(ConfigError, match="not valid YAML"):
        load(path)


def test_file_top_level_list_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "- concurrency\n")

    with pytest.raises(ConfigError, match="mapping of settings"):
        load(path)


def test_file_missing_path_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "absent.yml")


def test_file_invalid_value_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "concurrency: 0\n")

    with pytest.raises(ConfigError) as info:
        load(path)

    message = str(info.value)
    assert "'concurrency'" in message
    assert "expected an integer >= 1" in message


def test_file_from_roadie_config_variable(tmp_path: Path) -> None:
    path = write_config(tmp_path, "concurrency: 3\n", name="elsewhere.yml")

    settings = Settings.load(env={"ROADIE_CONFIG": str(path)}, search=False)

    assert settings.concurrency == 3


# ----------------------------------------------------- environment variables


def test_env_redis_url() -> None:
    assert load(env={"REDIS_URL": "redis://10.0.0.1:6379/3"}).redis_url == "redis://10.0.0.1:6379/3"


def test_env_redis_provider_names_variable() -> None:
    env = {"REDIS_PROVIDER": "REDISCLOUD_URL", "REDISCLOUD_URL": "redis://cloud:1/0", "REDIS_URL": "redis://plain/0"}

    assert load(env=env).redis_url == "redis://cloud:1/0"


def test_env_redis_provider_falls_back() -> None:
    env = {"REDIS_PROVIDER": "REDISCLOUD_URL", "REDIS_URL": "redis://plain/0"}

    assert load(env=env).redis_url == "redis://plain/0"


def test_env_redis_provider_url_error() -> None:
    with pytest.raises(ConfigError) as info:
        load(env={"REDIS_PROVIDER": "redis://cloud:1/0"})

    message = str(info.value)
    assert "REDIS_PROVIDER must be the name" in message
    assert "REDIS_URL" in message


def test_env_roadie_redis_url_first() -> None:
    env = {"ROADIE_REDIS_URL": "redis://mine/0", "REDIS_URL": "redis://plain/0"}

    assert resolve_redis_url(env) == "redis://mine/0"


def test_env_nothing_set_gives_none() -> None:
    assert resolve_redis_url({}) is None


def test_env_concurrency_cast() -> None:
    settings = load(env={"ROADIE_CONCURRENCY": " 32 "})

    assert settings.concurrency == 32
    assert settings.source == "defaults < environment"


def test_env_list_settings_cast() -> None:
    settings = load(env={"ROADIE_QUEUES": "critical,3 default", "ROADIE_LABELS": "a, b"})

    assert settings.queues == (QueueSpec("critical", 3), QueueSpec("default", 0))
    assert settings.labels == ("a", "b")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ROADIE_CONCURRENCY", "many"), ("ROADIE_TIMEOUT", "nan"), ("ROADIE_LOG_LEVEL", "loud")],
)
def test_env_invalid_value_error(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(env={variable: value})

    message = str(info.value)
    assert f"environment variable {variable}" in message
    assert repr(value) in message
    assert "expected" in message


def test_env_unknown_variable_error() -> None:
    with pytest.raises(ConfigError) as info:
        load(env={"ROADIE_CONCURENCY": "5"})

    message = str(info.value)
    assert "unknown environment variable ROADIE_CONCURENCY" in message
    assert "concurrency" in message


def test_env_non_setting_variables_allowed() -> None:
    env = {"ROADIE_REDIS_SERVER": "/usr/bin/redis-server", "ROADIE_ENV": "test", "OTHER": "x"}

    assert load(env=env).environment == "test"


# --------------------------------------------------------------- precedence


def test_precedence_file_over_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, "concurrency: 5\ntimeout: 9\n")

    settings = load(path)

    assert settings.concurrency == 5
    assert settings.max_retries == 25


def test_precedence_env_over_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "concurrency: 5\ntimeout: 9\nredis_url: redis://file/0\n")

    settings = load(path, env={"ROADIE_CONCURRENCY": "6", "REDIS_URL": "redis://env/0"})

    assert settings.concurrency == 6
    assert settings.redis_url == "redis://env/0"
    assert settings.timeout == 9.0


def test_precedence_overrides_over_env(tmp_path: Path) -> None:
    path = write_config(tmp_path, "concurrency: 5\ntimeout: 9\n")

    settings = load(path, env={"ROADIE_CONCURRENCY": "6"}, overrides={"concurrency": 7, "timeout": None})

    assert settings.concurrency == 7
    assert settings.timeout == 9.0
    assert settings.source == f"defaults < {path} < environment < arguments"


def test_precedence_environment_section_over_top(tmp_path: Path) -> None:
    path = write_config(tmp_path, "production:\n  concurrency: 50\nconcurrency: 5\n")

    assert load(path, environment="production").concurrency == 50


def test_overrides_unknown_setting_error() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'concurency'"):
        load(overrides={"concurency": 3})


# ---------------------------------------------------------- find_config_file


def test_find_config_file_root(tmp_path: Path) -> None:
    expected = write_config(tmp_path, "concurrency: 2\n")
    write_config(tmp_path, "concurrency: 3\n", name="config/roadie.yml")

    assert find_config_file(str(tmp_path)) == str(expected)


def test_find_config_file_config_folder(tmp_path: Path) -> None:
    expected = write_config(tmp_path, "concurrency: 3\n", name="config/roadie.yml")

    assert find_config_file(str(tmp_path)) == str(expected)


def test_find_config_file_none(tmp_path: Path) -> None:
    assert find_config_file(str(tmp_path)) is None


def test_load_searches_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, "concurrency: 3\n", name="config/roadie.yml")
    monkeypatch.chdir(tmp_path)

    assert Settings.load(env={}).concurrency == 3
    assert Settings.load(env={}, search=False).concurrency == 10


# ---------------------------------------------------------------- redact_url


def test_redact_url_hides_password() -> None:
    redacted = redact_url("redis://user:s3cret@cache.internal:6380/2?ssl_cert_reqs=none")

    assert redacted == "redis://user:***@cache.internal:6380/2?ssl_cert_reqs=none"


def test_redact_url_password_only() -> None:
    assert redact_url("rediss://:s3cret@cache:6380/0") == "rediss://:***@cache:6380/0"


def test_redact_url_without_password() -> None:
    url = "redis://cache.internal:6379/0"

    assert redact_url(url) == url


def test_redact_url_ipv6_host() -> None:
    assert redact_url("redis://:s3cret@[::1]:6379/0") == "redis://:***@[::1]:6379/0"


def test_redact_url_invalid_port() -> None:
    assert redact_url("redis://:s3cret@cache:notaport/0") == "redis://:***@cache:notaport/0"


def test_redact_url_sentinel_hosts() -> None:
    url = "redis+sentinel://:s3cret@a:26379,b:26380/mymaster/2?sentinel_password=other"
    assert redact_url(url) == "redis+sentinel://:***@a:26379,b:26380/mymaster/2?sentinel_password=***"


def test_as_dict_redacts_url() -> None:
    values = Settings(redis_url="redis://:s3cret@cache/0").as_dict()

    assert values["redis_url"] == "redis://:***@cache/0"


# --------------------------------------------------------- Settings methods


def test_replace_applies_and_validates() -> None:
    settings = Settings().replace(concurrency=3, queues=["a,2", "b"])

    assert settings.concurrency == 3
    assert settings.queues == (QueueSpec("a", 2), QueueSpec("b", 0))


def test_replace_unknown_key_error() -> None:
    with pytest.raises(ConfigError) as info:
        Settings().replace(concurency=3)

    message = str(info.value)
    assert "unknown keyword argument 'concurency'" in message
    assert "concurrency" in message


def test_replace_invalid_value_error() -> None:
    with pytest.raises(ConfigError, match="invalid value for setting 'timeout'"):
        Settings().replace(timeout=-1)


def test_recovery_timeout_above_heartbeat() -> None:
    with pytest.raises(ConfigError) as info:
        Settings(heartbeat_interval=10, recovery_timeout=10)

    message = str(info.value)
    assert "recovery_timeout" in message
    assert "heartbeat_interval" in message


def test_strict_queues_without_weights() -> None:
    assert Settings(queues=["critical", "default"]).strict_queues is True


def test_strict_queues_with_weights() -> None:
    assert Settings(queues=["critical,2", "default"]).strict_queues is False


# ------------------------------------------------------------- queue parsing


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("critical", QueueSpec("critical", 0)),
        ("critical,2", QueueSpec("critical", 2)),
        (" critical , 2 ", QueueSpec("critical", 2)),
        (["critical", 2], QueueSpec("critical", 2)),
        (["critical"], QueueSpec("critical", 0)),
    ],
)
def test_parse_queue_entries(entry: object, expected: QueueSpec) -> None:
    assert parse_queue(entry) == expected


@pytest.mark.parametrize("entry", ["critical,x", "critical,-1", ["a", 1, 2], 5])
def test_parse_queue_invalid_entries(entry: object) -> None:
    with pytest.raises(ValueError, match="queue entry"):
        parse_queue(entry)


def test_queue_spec_string_form() -> None:
    assert str(QueueSpec("critical", 2)) == "critical,2"
    assert str(QueueSpec("default")) == "default"


def test_validate_queue_name_message() -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        validate_queue_name("bad name")


def test_chosen_environment_without_section_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "roadie.yml"
    config.write_text("concurrency: 4\nproduction:\n  concurrency: 25\n", encoding="utf-8")

    settings = Settings.load(config, environment="prodution", env={})

    assert settings.concurrency == 4
    assert "no section for environment 'prodution' (its sections: production)" in caplog.text


def test_default_environment_without_section_is_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "roadie.yml"
    config.write_text("production:\n  concurrency: 25\n", encoding="utf-8")

    Settings.load(config, env={})

    assert "no section" not in caplog.text
