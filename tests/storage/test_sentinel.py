"""Sentinel: a primary, a replica and three sentinels on loopback; fail over during a job stream."""

from __future__ import annotations

import collections
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import roadie
from roadie.storage.embedded import EmbeddedRedis, _pick_free_port, find_redis_server
from roadie.storage.redis import SentinelURL, connect

SERVICE = "roadiemaster"


def _wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except redis.exceptions.RedisError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Sentinels:
    """Three sentinel processes watching one primary; stopped by PID at the end."""

    def __init__(self, directory: Path, primary_port: int) -> None:
        self.ports = [_pick_free_port() for _ in range(3)]
        self.processes: list[subprocess.Popen[bytes]] = []
        binary = find_redis_server()
        for port in self.ports:
            config = directory / f"sentinel-{port}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 10000\n",
                encoding="utf-8",
            )
            log = open(directory / f"sentinel-{port}.log", "wb")
            self.processes.append(subprocess.Popen([binary, str(config), "--sentinel"], stdout=log,
                                                   stderr=subprocess.STDOUT))

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.ports[0])

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis, Sentinels]]:
    primary = EmbeddedRedis(directory=str(tmp_path / "primary"))
    primary.start()
    replica = EmbeddedRedis(directory=str(tmp_path / "replica"),
                            extra_args=("--replicaof", "127.0.0.1", str(primary.port)))
    replica.start()
    sentinels = Sentinels(tmp_path, primary.port)
    try:
        _wait_until(lambda: redis.Redis(port=replica.port).info("replication")["master_link_status"] == "up",
                    30, "the replica to sync")
        _wait_until(lambda: sentinels.client().sentinel_master(SERVICE)["num-other-sentinels"] == 2,
                    30, "the sentinels to find each other")
        yield primary, replica, sentinels
    finally:
        sentinels.stop()
        replica.stop()
        primary.stop()


def test_sentinel_url_parses() -> None:
    parsed = SentinelURL("redis+sentinel://:pw@127.0.0.1:26379,127.0.0.1:26380/mymaster/3")
    assert parsed.sentinels == [("127.0.0.1", 26379), ("127.0.0.1", 26380)]
    assert parsed.service == "mymaster"
    assert parsed.db == 3
    assert parsed.password == "pw"


def test_sentinel_url_without_service_fails() -> None:
    with pytest.raises(roadie.RoadieError, match="names no service"):
        connect("redis+sentinel://127.0.0.1:26379")


@pytest.mark.timeout(300)
def test_failover_during_stream_loses_nothing(cluster, start_worker, worker_jobs) -> None:
    primary, replica, sentinels = cluster
    jobs = 2000
    with roadie.Client(sentinels.url) as client:
        worker_jobs.chaos.set(client=client).perform_bulk([[token] for token in range(jobs)])
    replica_connection = redis.Redis(port=replica.port)
    _wait_until(lambda: replica_connection.llen("queue:default") == jobs, 30, "the queue to replicate")

    fast = {"ROADIE_HEARTBEAT_INTERVAL": "1", "ROADIE_RECOVERY_TIMEOUT": "3"}
    workers = [start_worker("-c", "5", "-l", "warning", env=fast, url=sentinels.url) for _ in range(2)]
    probe = workers[0]

    def executed() -> int:
        return len({line[1] for line in probe.lines() if line[0] == "chaos"})

    _wait_until(lambda: executed() >= jobs // 4, 120, "a quarter of the jobs")
    sentinels.client().execute_command("SENTINEL", "FAILOVER", SERVICE)
    _wait_until(lambda: replica_connection.info("replication")["role"] == "master", 60, "the replica's promotion")

    _wait_until(lambda: executed() == jobs, 180, f"all {jobs} jobs after the failover")
    for worker in workers:
        worker.stop()

    runs = collections.Counter(line[1] for line in probe.lines() if line[0] == "chaos")
    assert set(runs) == set(range(jobs))
    duplicates = sum(1 for count in runs.values() if count > 1)
    print(f"sentinel failover: {jobs} jobs, none lost, {duplicates} ran twice")
