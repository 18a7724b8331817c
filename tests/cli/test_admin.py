"""Tests for the operator commands in roadie.cli.admin, run through click's CliRunner against real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis
from click.testing import CliRunner, Result

from roadie.cli.main import cli


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every command in an empty folder with no Redis or roadie variables, so only flags count."""
    monkeypatch.chdir(tmp_path)
    for name in ("REDIS_URL", "REDIS_PROVIDER", "ROADIE_CONFIG", "ROADIE_NAMESPACE", "ROADIE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def roadie(redis_url: str) -> Iterator[object]:
    """Return a function that runs ``roadie ARGS --redis-url <test Redis>`` and returns click's Result."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, [*args, "--redis-url", redis_url], catch_exceptions=False)

    yield run


def jid_for(index: int) -> str:
    return f"{index:024x}"


def job_bytes(index: int, **fields: object) -> bytes:
    return orjson.dumps({"class": "HardJob", "args": [index], "jid": jid_for(index), "queue": "default", **fields})


def fill_set(redis_client: redis.Redis, key: str, count: int, **fields: object) -> None:
    base = time.time() + 3600 if key != "dead" else time.time() - 3600
    redis_client.zadd(key, {job_bytes(index, **fields): base + index for index in range(count)})


def write_process(redis_client: redis.Redis, identity: str, busy: int = 1) -> None:
    hostname, pid, _ = identity.split(":")
    info = {"hostname": hostname, "pid": int(pid), "started_at": time.time() - 90, "tag": "shop",
            "concurrency": 5, "queues": ["default", "mail"], "labels": [], "identity": identity, "version": "0.1.0"}
    redis_client.sadd("processes", identity)
    redis_client.hset(identity, mapping={"info": orjson.dumps(info), "busy": busy, "beat": time.time(),
                                         "quiet": "false", "rss": 40960, "rtt_us": 100})
    redis_client.expire(identity, 60)


# ------------------------------------------------------------------ status


def test_status_shows_sections(roadie, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", busy=2)
    redis_client.sadd("queues", "default")
    redis_client.lpush("queue:default", job_bytes(1, enqueued_at=time.time() - 5))
    fill_set(redis_client, "retry", 3)

    result = roadie("status")

    assert result.exit_code == 0, result.output
    assert "Processes (1)" in result.stdout
    assert "web-1:10:aaaaaaaaaaaa" in result.stdout
    assert "2/5" in result.stdout
    assert "Queues (1)" in result.stdout
    assert "RETRIES" in result.stdout


def test_status_json_parses(roadie, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", busy=2)
    fill_set(redis_client, "dead", 4)

    result = roadie("status", "--json")

    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["stats"]["dead_size"] == 4
    assert status["stats"]["workers_size"] == 2
    assert [process["identity"] for process in status["processes"]] == ["web-1:10:aaaaaaaaaaaa"]
    assert status["redis"]["version"]


def test_status_unreachable_redis_exits_1() -> None:
    result = CliRunner().invoke(cli, ["status", "--redis-url", "redis://127.0.0.1:1/0"])

    assert result.exit_code == 1
    assert "unreachable" in result.output


def test_status_honors_namespace(roadie, redis_client: redis.Redis) -> None:
    redis_client.zadd("app:retry", {job_bytes(1): time.time()})

    result = roadie("status", "--json", "--namespace", "app")

    assert json.loads(result.stdout)["stats"]["retry_size"] == 1


def test_status_reads_config_file(redis_url: str, redis_client: redis.Redis, tmp_path: Path) -> None:
    (tmp_path / "ops.yml").write_text(f"redis_url: {redis_url}\nnamespace: shop\n")
    redis_client.zadd("shop:dead", {job_bytes(1): time.time()})

    result = CliRunner().invoke(cli, ["status", "--json", "-C", str(tmp_path / "ops.yml")])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stats"]["dead_size"] == 1


def test_invalid_config_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("no_such_setting: 1\n")

    result = CliRunner().invoke(cli, ["status", "-C", str(tmp_path / "bad.yml")])

    assert result.exit_code == 1
    assert "no_such_setting" in result.output


# ------------------------------------------------------------------ queues


def test_queues_table(roadie, redis_client: redis.Redis) -> None:
    redis_client.sadd("queues", "mail", "default")
    redis_client.lpush("queue:mail", job_bytes(1), job_bytes(2))
    redis_client.sadd("paused", "mail")

    result = roadie("queues")

    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "LATENCY", "PAUSED"]
    assert lines[2].split()[:2] == ["mail", "2"]
    assert lines[2].split()[-1] == "yes"


def test_queues_json(roadie, redis_client: redis.Redis) -> None:
    redis_client.sadd("queues", "default")
    redis_client.lpush("queue:default", job_bytes(1))

    result = roadie("queues", "--json")

    assert [(queue["name"], queue["size"]) for queue in json.loads(result.stdout)] == [("default", 1)]


def test_queues_empty(roadie) -> None:
    assert roadie("queues").stdout.strip() == "no queues"


def test_queues_pause_and_resume(roadie, redis_client: redis.Redis) -> None:
    paused = roadie("queues", "pause", "mail", "reports")
    members_after_pause = redis_client.smembers("paused")
    resumed = roadie("queues", "resume", "mail")

    assert paused.exit_code == 0
    assert paused.stdout.strip() == "paused 'mail', 'reports'"
    assert "no queue named 'mail' has received jobs yet" in paused.stderr
    assert members_after_pause == {b"mail", b"reports"}
    assert resumed.stdout.strip() == "resumed 'mail'"
    assert redis_client.smembers("paused") == {b"reports"}


def test_queues_group_options_reach_subcommand(redis_url: str, redis_client: redis.Redis,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # No server listens at the default URL, so the command must use the --redis-url given before "pause".
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    runner = CliRunner()

    paused = runner.invoke(cli, ["queues", "--redis-url", redis_url, "--json", "pause", "mail"])
    cleared = runner.invoke(cli, ["queues", "--redis-url", redis_url, "clear", "mail", "--yes"])

    assert paused.exit_code == 0, paused.output
    assert json.loads(paused.stdout) == {"action": "paused", "queues": ["mail"]}
    assert redis_client.smembers("paused") == {b"mail"}
    assert cleared.exit_code == 0, cleared.output


def test_queues_subcommand_option_wins(redis_url: str, redis_client: redis.Redis) -> None:
    runner = CliRunner()

    result = runner.invoke(cli, ["queues", "--redis-url", "redis://127.0.0.1:1/0", "pause", "mail",
                                 "--redis-url", redis_url])

    assert result.exit_code == 0, result.output
    assert redis_client.smembers("paused") == {b"mail"}


def test_queues_pause_json(roadie, redis_client: redis.Redis) -> None:
    result = roadie("queues", "pause", "mail", "--json")

    assert json.loads(result.stdout) == {"action": "paused", "queues": ["mail"]}


def test_queues_pause_invalid_name(roadie, redis_client: redis.Redis) -> None:
    result = roadie("queues", "pause", "no spaces")

    assert result.exit_code == 2
    assert "'no spaces'" in result.output
    assert redis_client.exists("paused") == 0


def test_queues_clear_needs_yes(roadie, redis_client: redis.Redis) -> None:
    redis_client.sadd("queues", "mail")
    redis_client.lpush("queue:mail", job_bytes(1))

    result = roadie("queues", "clear", "mail")

    assert result.exit_code == 2
    assert "--yes" in result.output
    assert redis_client.llen("queue:mail") == 1


def test_queues_clear_deletes_jobs(roadie, redis_client: redis.Redis) -> None:
    redis_client.sadd("queues", "mail", "default")
    redis_client.lpush("queue:mail", job_bytes(1), job_bytes(2))

    result = roadie("queues", "clear", "mail", "--yes")

    assert result.stdout.strip() == "deleted 2 jobs from queue 'mail'"
    assert redis_client.exists("queue:mail") == 0
    assert redis_client.smembers("queues") == {b"default"}


# -------------------------------------------------------------- set lists


def test_retries_list_table(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 3, retry_count=2, error_class="KeyError", error_message="missing key")

    result = roadie("retries", "list")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["NEXT", "RETRY", "JID"]
    assert jid_for(0) in lines[1]
    assert "KeyError: missing key" in lines[1]
    assert len(lines) == 4


def test_retries_list_limit(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 5)

    result = roadie("retries", "list", "--limit", "2")

    assert len(result.stdout.splitlines()) == 4
    assert "showing 2 of 5" in result.stdout


def test_dead_list_json_newest_first(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 3)

    result = roadie("dead", "list", "--json")

    entries = json.loads(result.stdout)
    assert [entry["jid"] for entry in entries] == [jid_for(2), jid_for(1), jid_for(0)]
    assert entries[0]["job"]["args"] == [2]


def test_scheduled_list_empty(roadie) -> None:
    assert roadie("scheduled", "list").stdout.strip() == "the scheduled set is empty"


def test_list_shows_undecodable_entry(roadie, redis_client: redis.Redis) -> None:
    redis_client.zadd("dead", {b"not json": time.time()})

    result = roadie("dead", "list")

    assert result.exit_code == 0, result.output
    assert "(invalid payload)" in result.stdout


# ------------------------------------------------------------- set actions


def test_retries_retry_one_jid(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 3, retry_count=1)

    result = roadie("retries", "retry", jid_for(1))

    assert result.exit_code == 0, result.output
    [pushed] = [orjson.loads(raw) for raw in redis_client.lrange("queue:default", 0, -1)]
    assert pushed["jid"] == jid_for(1)
    assert pushed["retry_count"] == 0
    assert redis_client.zcard("retry") == 2


def test_retries_retry_missing_jid_exits_1(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 1)

    result = roadie("retries", "retry", jid_for(0), jid_for(42))

    assert result.exit_code == 1
    assert jid_for(42) in result.output
    assert redis_client.llen("queue:default") == 1


def test_retry_all_without_yes_refuses(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 3)

    result = roadie("retries", "retry", "--all")

    assert result.exit_code == 2
    assert "--yes" in result.output
    assert redis_client.zcard("retry") == 3


def test_delete_all_without_yes_refuses(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 2)

    result = roadie("dead", "delete", "--all")

    assert result.exit_code == 2
    assert redis_client.zcard("dead") == 2


def test_action_without_target_exits_2(roadie) -> None:
    assert roadie("retries", "retry").exit_code == 2


def test_action_jid_and_all_exits_2(roadie) -> None:
    assert roadie("retries", "retry", jid_for(1), "--all", "--yes").exit_code == 2


def test_retries_retry_all(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 120)

    result = roadie("retries", "retry", "--all", "--yes", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["count"] == 120
    assert redis_client.llen("queue:default") == 120


def test_retries_kill_one_jid(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 2)

    result = roadie("retries", "kill", jid_for(0))

    assert result.exit_code == 0, result.output
    assert redis_client.zrange("dead", 0, -1) == [job_bytes(0)]


def test_retries_kill_all(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 3)

    result = roadie("retries", "kill", "--all", "--yes")

    assert result.exit_code == 0, result.output
    assert "3 jobs moved to the dead set" in result.stdout
    assert redis_client.zcard("dead") == 3


def test_retries_delete_all(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 4)

    result = roadie("retries", "delete", "--all", "--yes")

    assert result.exit_code == 0, result.output
    assert redis_client.exists("retry") == 0


def test_scheduled_add_to_queue(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "schedule", 2)

    result = roadie("scheduled", "add-to-queue", jid_for(1), "--json")

    assert json.loads(result.stdout) == {"action": "add-to-queue", "count": 1, "jids": [jid_for(1)], "not_found": []}
    assert redis_client.llen("queue:default") == 1


def test_scheduled_delete_one_jid(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "schedule", 2)

    result = roadie("scheduled", "delete", jid_for(0))

    assert result.exit_code == 0, result.output
    assert redis_client.zrange("schedule", 0, -1) == [job_bytes(1)]


def test_scheduled_has_no_retry_or_kill(roadie) -> None:
    assert roadie("scheduled", "retry", "--all", "--yes").exit_code == 2
    assert roadie("scheduled", "kill", "--all", "--yes").exit_code == 2


def test_dead_has_no_kill(roadie) -> None:
    assert roadie("dead", "kill", "--all", "--yes").exit_code == 2


def test_dead_retry_all(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 3, retry_count=25)

    result = roadie("dead", "retry", "--all", "--yes")

    assert result.exit_code == 0, result.output
    counts = {orjson.loads(raw)["retry_count"] for raw in redis_client.lrange("queue:default", 0, -1)}
    assert counts == {24}


def test_dead_delete_one_jid(roadie, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 2)

    result = roadie("dead", "delete", jid_for(1))

    assert result.exit_code == 0, result.output
    assert redis_client.zrange("dead", 0, -1) == [job_bytes(0)]


# ----------------------------------------------------------------- enqueue


def test_enqueue_ruby_class(roadie, redis_client: redis.Redis) -> None:
    result = roadie("enqueue", "HardJob", '[1, "two"]', "--queue", "critical", "--json")

    assert result.exit_code == 0, result.output
    jid = json.loads(result.stdout)["jid"]
    [job] = [orjson.loads(raw) for raw in redis_client.lrange("queue:critical", 0, -1)]
    assert (job["class"], job["args"], job["jid"], job["queue"]) == ("HardJob", [1, "two"], jid, "critical")
    assert job["retry"] is True
    assert redis_client.sismember("queues", "critical")


def test_enqueue_without_args(roadie, redis_client: redis.Redis) -> None:
    result = roadie("enqueue", "app.jobs.cleanup")

    assert result.exit_code == 0, result.output
    assert orjson.loads(redis_client.lindex("queue:default", 0))["args"] == []


def test_enqueue_in_seconds_schedules(roadie, redis_client: redis.Redis) -> None:
    before = time.time()

    result = roadie("enqueue", "HardJob", "[]", "--in", "300")

    assert result.exit_code == 0, result.output
    [(raw, score)] = redis_client.zrange("schedule", 0, -1, withscores=True)
    assert before + 300 <= score
    assert "enqueued_at" not in orjson.loads(raw)
    assert redis_client.llen("queue:default") == 0


def test_enqueue_kwargs_object(roadie, redis_client: redis.Redis) -> None:
    result = roadie("enqueue", "app.jobs.mail", "[]", "--kwargs", '{"user_id": 42}')

    assert result.exit_code == 0, result.output
    assert orjson.loads(redis_client.lindex("queue:default", 0))["kwargs"] == {"user_id": 42}


@pytest.mark.parametrize("json_args", ['{"a": 1}', "42", "[1,", "not json"])
def test_enqueue_rejects_non_array(roadie, redis_client: redis.Redis, json_args: str) -> None:
    result = roadie("enqueue", "HardJob", json_args)

    assert result.exit_code == 2
    assert "JSON array" in result.output
    assert redis_client.exists("queue:default") == 0


def test_enqueue_rejects_invalid_queue(roadie) -> None:
    result = roadie("enqueue", "HardJob", "[]", "--queue", "bad queue!")

    assert result.exit_code == 2
    assert "bad queue!" in result.output


def test_enqueue_retry_option(roadie, redis_client: redis.Redis) -> None:
    result = roadie("enqueue", "HardJob", "[]", "--retry", "0")

    assert result.exit_code == 0, result.output
    assert orjson.loads(redis_client.lindex("queue:default", 0))["retry"] == 0


def test_enqueue_rejects_bad_retry(roadie) -> None:
    assert roadie("enqueue", "HardJob", "[]", "--retry", "sometimes").exit_code == 2


SURVEY_JOBS = """
import roadie

@roadie.job(queue="mail", retry=0)
def send_survey(user_id, locale="en"):
    pass
"""


def test_enqueue_required_job_options(roadie, redis_client: redis.Redis, tmp_path: Path) -> None:
    (tmp_path / "survey_jobs_options.py").write_text(SURVEY_JOBS)

    result = roadie("enqueue", "-r", "survey_jobs_options.py", "survey_jobs_options.send_survey", "[88]",
                    "--kwargs", '{"locale": "de"}', "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["queue"] == "mail"
    job = orjson.loads(redis_client.lindex("queue:mail", 0))
    assert (job["retry"], job["args"], job["kwargs"]) == (0, [88], {"locale": "de"})


def test_enqueue_required_job_checks_args(roadie, redis_client: redis.Redis, tmp_path: Path) -> None:
    (tmp_path / "survey_jobs_args.py").write_text(SURVEY_JOBS)

    result = roadie("enqueue", "-r", "survey_jobs_args.py", "survey_jobs_args.send_survey", "[1, 2, 3]")

    assert result.exit_code == 2
    assert redis_client.exists("queue:mail") == 0


def test_enqueue_required_job_in_seconds(roadie, redis_client: redis.Redis, tmp_path: Path) -> None:
    (tmp_path / "survey_jobs_later.py").write_text(SURVEY_JOBS)

    result = roadie("enqueue", "-r", "survey_jobs_later.py", "survey_jobs_later.send_survey", "[5]", "--in", "120")

    assert result.exit_code == 0, result.output
    assert redis_client.zcard("schedule") == 1


def test_enqueue_unknown_required_job(roadie, tmp_path: Path) -> None:
    (tmp_path / "survey_jobs_unknown.py").write_text(SURVEY_JOBS)

    result = roadie("enqueue", "-r", "survey_jobs_unknown.py", "survey_jobs_unknown.send_surey", "[1]")

    assert result.exit_code == 1
    assert "survey_jobs_unknown.send_survey" in result.output


# ---------------------------------------------------------- quiet and stop


def test_quiet_one_identity(roadie, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")

    result = roadie("quiet", "web-1:10:aaaaaaaaaaaa")

    assert result.exit_code == 0, result.output
    assert redis_client.lrange("web-1:10:aaaaaaaaaaaa-signals", 0, -1) == [b"TSTP"]


def test_stop_identity_prefix(roadie, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    write_process(redis_client, "web-2:11:bbbbbbbbbbbb")

    result = roadie("stop", "web-2", "--json")

    assert json.loads(result.stdout)["identities"] == ["web-2:11:bbbbbbbbbbbb"]
    assert redis_client.lrange("web-2:11:bbbbbbbbbbbb-signals", 0, -1) == [b"TERM"]
    assert redis_client.exists("web-1:10:aaaaaaaaaaaa-signals") == 0


def test_ambiguous_prefix_exits_1(roadie, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    write_process(redis_client, "web-2:11:bbbbbbbbbbbb")

    result = roadie("stop", "web")

    assert result.exit_code == 1
    assert "matches 2 processes" in result.output


def test_quiet_unknown_identity_exits_1(roadie) -> None:
    result = roadie("quiet", "nowhere:1:000000000000")

    assert result.exit_code == 1
    assert "no live process" in result.output


def test_stop_all_processes(roadie, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    write_process(redis_client, "web-2:11:bbbbbbbbbbbb")

    result = roadie("stop", "--all")

    assert result.exit_code == 0, result.output
    assert redis_client.lrange("web-1:10:aaaaaaaaaaaa-signals", 0, -1) == [b"TERM"]
    assert redis_client.lrange("web-2:11:bbbbbbbbbbbb-signals", 0, -1) == [b"TERM"]


def test_quiet_needs_target(roadie) -> None:
    assert roadie("quiet").exit_code == 2


# ------------------------------------------------------------- help, subprocess


def test_help_documents_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["retries", "retry", "--help"])

    assert "Exit codes:" in result.stdout
    assert "2  invalid usage" in result.stdout


def test_console_script_runs_status(redis_url: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "roadie", "queues", "--json", "--redis-url", redis_url],
        capture_output=True, text=True, timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == []
