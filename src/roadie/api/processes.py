"""Live worker processes and the jobs they are running now."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from roadie import payload
from roadie._time import epoch_from_timestamp
from roadie.api._common import _float, _int, _RedisBound, _text, _translated
from roadie.api.records import JobRecord

logger = logging.getLogger(__name__)

# Remote signals expire if no process pops them within this many seconds.
SIGNAL_TTL = 60
# Sidekiq's lock that lets one caller a minute prune the `processes` set.
PROCESS_CLEANUP_LOCK_SECONDS = 60
# Remote signals a process understands: quiet, stop, and log every thread's stack.
SIGNALS = frozenset({"TSTP", "TERM", "TTIN"})

_PROCESS_FIELDS = ("info", "busy", "beat", "quiet", "rss", "rtt_us", "concurrency")


class Process:
    """A live worker process, from its ``<identity>`` hash and the ``info`` JSON in it.

    Reads Sidekiq 6.4 to 8.1 records: ``capsules`` (8.0.9+) take precedence
    over ``queues``/``weights``, and the ``concurrency`` field (8.1.2+) over
    the one in ``info``. The quiet state is :attr:`stopping`, because
    :meth:`quiet` is the action.
    """

    def __init__(self, owner: _RedisBound, identity: str, info: dict[str, Any], fields: Mapping[str, Any]) -> None:
        self._owner = owner
        self.identity = identity
        self.info = info
        self.busy = _int(fields.get("busy"))
        self.beat = _float(fields.get("beat"))
        self.stopping = fields.get("quiet") in (b"true", "true")
        self.rss = _int(fields.get("rss"))
        self.rtt_us = _int(fields.get("rtt_us"))
        self._concurrency_field = fields.get("concurrency")

    @property
    def hostname(self) -> str | None:
        return _info_str(self.info, "hostname")

    @property
    def pid(self) -> int | None:
        pid = self.info.get("pid")
        return pid if isinstance(pid, int) else None

    @property
    def tag(self) -> str | None:
        return _info_str(self.info, "tag")

    @property
    def version(self) -> str | None:
        return _info_str(self.info, "version")

    @property
    def labels(self) -> list[str]:
        labels = self.info.get("labels")
        return [str(label) for label in labels] if isinstance(labels, list) else []

    @property
    def started_at(self) -> float | None:
        return epoch_from_timestamp(self.info.get("started_at"))

    @property
    def embedded(self) -> bool:
        return self.info.get("embedded") is True

    @property
    def capsules(self) -> dict[str, Any]:
        capsules = self.info.get("capsules")
        return capsules if isinstance(capsules, dict) else {}

    @property
    def queues(self) -> list[str]:
        """Queue names in the order the process lists them, across capsules."""
        names: list[str] = []
        for capsule in self.capsules.values():
            weights = capsule.get("weights") if isinstance(capsule, dict) else None
            if isinstance(weights, dict):
                names.extend(name for name in weights if name not in names)
        if names:
            return names
        queues = self.info.get("queues")
        return [str(name) for name in queues] if isinstance(queues, list) else []

    @property
    def weights(self) -> list[dict[str, int]]:
        """One queue-to-weight map per capsule."""
        from_capsules = [
            capsule["weights"] for capsule in self.capsules.values()
            if isinstance(capsule, dict) and isinstance(capsule.get("weights"), dict)
        ]
        if from_capsules:
            return from_capsules
        weights = self.info.get("weights")
        return [entry for entry in weights if isinstance(entry, dict)] if isinstance(weights, list) else []

    @property
    def concurrency(self) -> int:
        """Threads of the process: the ``concurrency`` field, else ``info``, else the sum over capsules."""
        if self._concurrency_field is not None:
            return _int(self._concurrency_field)
        value = self.info.get("concurrency")
        if isinstance(value, int):
            return value
        return sum(
            capsule.get("concurrency", 0) for capsule in self.capsules.values()
            if isinstance(capsule, dict) and isinstance(capsule.get("concurrency"), int)
        )

    def quiet(self) -> None:
        """Ask the process to stop fetching jobs (TSTP); it obeys at its next heartbeat."""
        self.signal("TSTP")

    def stop(self) -> None:
        """Ask the process to shut down (TERM); it obeys at its next heartbeat."""
        self.signal("TERM")

    def dump_threads(self) -> None:
        """Ask the process to log every thread's stack (TTIN)."""
        self.signal("TTIN")

    def signal(self, name: str) -> None:
        """Queue a remote signal (``TSTP``, ``TERM`` or ``TTIN``) for the process to pop."""
        if name not in SIGNALS:
            raise ValueError(f"unknown signal {name!r}; expected one of {', '.join(sorted(SIGNALS))}")
        key = self._owner.keys.signals(self.identity)
        with self._owner._redis_errors(), self._owner.connection.pipeline(transaction=True) as pipe:
            pipe.lpush(key, name)
            pipe.expire(key, SIGNAL_TTL)
            pipe.execute()

    def __repr__(self) -> str:
        return f"<Process {self.identity} busy={self.busy}/{self.concurrency}{' stopping' if self.stopping else ''}>"


def _info_str(info: Mapping[str, Any], key: str) -> str | None:
    value = info.get(key)
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


class ProcessSet(_RedisBound):
    """The live processes, sorted by identity. Records that expired are skipped; :meth:`cleanup` prunes them."""

    @_translated
    def __iter__(self) -> Iterator[Process]:
        identities = self._identities()
        with self.connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.hmget(self.keys.process(identity), _PROCESS_FIELDS)
            records = pipe.execute()
        for identity, values in zip(identities, records):
            process = self._build(identity, values)
            if process is not None:
                yield process

    @_translated
    def get(self, identity: str) -> Process | None:
        """Return the live process ``identity``, or None when its record is missing or expired."""
        return self._build(identity, self.connection.hmget(self.keys.process(identity), _PROCESS_FIELDS))

    @property
    @_translated
    def size(self) -> int:
        """Identities in the ``processes`` set, as Sidekiq counts them (expired ones until pruned)."""
        return int(self.connection.scard(self.keys.processes))

    @property
    def total_concurrency(self) -> int:
        return sum(process.concurrency for process in self)

    @property
    def total_rss(self) -> int:
        """Resident memory of all live processes, in KB."""
        return sum(process.rss for process in self)

    @property
    @_translated
    def leader(self) -> str | None:
        """Identity of the Sidekiq Enterprise leader (``dear-leader``), or None."""
        return _text(self.connection.get(f"{self.keys.prefix}dear-leader"))

    @_translated
    def cleanup(self) -> int:
        """Remove identities whose record expired from ``processes``; return how many.

        Takes Sidekiq's ``process_cleanup`` lock (SET NX EX 60) first, so
        this runs at most once a minute across roadie and Sidekiq. Returns 0
        without looking when another caller holds the lock.
        """
        lock = f"{self.keys.prefix}process_cleanup"
        if not self.connection.set(lock, "1", nx=True, ex=PROCESS_CLEANUP_LOCK_SECONDS):
            return 0
        identities = self._identities()
        with self.connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.hget(self.keys.process(identity), "info")
            infos = pipe.execute()
        gone = [identity for identity, info in zip(identities, infos) if info is None]
        if gone:
            self.connection.srem(self.keys.processes, *gone)
        return len(gone)

    def quiet_all(self) -> int:
        """Send TSTP to every live process; return how many."""
        return self._signal_all("TSTP")

    def stop_all(self) -> int:
        """Send TERM to every live process; return how many."""
        return self._signal_all("TERM")

    def _signal_all(self, name: str) -> int:
        processes = list(self)
        for process in processes:
            process.signal(name)
        return len(processes)

    def _identities(self) -> list[str]:
        return sorted({_text(identity) or "" for identity in self.connection.sscan_iter(self.keys.processes)})

    def _build(self, identity: str, values: Sequence[Any]) -> Process | None:
        fields = dict(zip(_PROCESS_FIELDS, values))
        if fields["info"] is None:
            return None
        try:
            info = orjson.loads(fields["info"])
        except orjson.JSONDecodeError:
            info = None
        if not isinstance(info, dict):
            logger.warning("process %s has an info field that is not a JSON object; skipping it", identity)
            return None
        return Process(self, identity, info, fields)


# ---------------------------------------------------------------------- work


class Work:
    """A job running now: the process and thread running it, its queue, start time and payload."""

    def __init__(self, owner: _RedisBound, identity: str, tid: str, data: Mapping[str, Any]) -> None:
        self.identity = identity
        self.tid = tid
        self.queue = data.get("queue") if isinstance(data.get("queue"), str) else None
        self.run_at = epoch_from_timestamp(data.get("run_at"))
        job = data.get("payload")
        # Sidekiq 7 and later store the payload as a JSON string; 6.x nested the object.
        raw = payload.dumps(job) if isinstance(job, (dict, list)) else str(job or "").encode("utf-8")
        self.payload = JobRecord(raw, queue=self.queue, owner=owner)

    @property
    def job(self) -> JobRecord:
        return self.payload

    def __repr__(self) -> str:
        return f"<Work {self.identity} tid={self.tid} {self.payload.job_class} jid={self.payload.jid}>"


class WorkSet(_RedisBound):
    """The jobs running now, read from each live process's busy map, oldest start first.

    Reads ``<identity>:work`` and, for Sidekiq 6.4 processes, ``<identity>:workers``.
    """

    @_translated
    def __iter__(self) -> Iterator[tuple[str, str, Work]]:
        identities = sorted({_text(name) or "" for name in self.connection.sscan_iter(self.keys.processes)})
        with self.connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.exists(self.keys.process(identity))
                pipe.hgetall(self.keys.work(identity))
                pipe.hgetall(f"{self.keys.process(identity)}:workers")
            replies = pipe.execute()
        running: list[tuple[str, str, Work]] = []
        for index, identity in enumerate(identities):
            alive, work, workers = replies[3 * index: 3 * index + 3]
            if not alive:
                continue
            for tid, value in (work or workers).items():
                running.append((identity, _text(tid) or "", self._work(identity, _text(tid) or "", value)))
        running.sort(key=lambda entry: entry[2].run_at or 0.0)
        yield from running

    def _work(self, identity: str, tid: str, value: bytes) -> Work:
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            data = {"payload": _text(value)}
        return Work(self, identity, tid, data)

    @property
    @_translated
    def size(self) -> int:
        """Jobs running now: the sum of ``busy`` over live processes, without reading the busy maps."""
        identities = list(self.connection.sscan_iter(self.keys.processes))
        with self.connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.hget(self.keys.process(_text(identity) or ""), "busy")
            return sum(_int(busy) for busy in pipe.execute())

    def find_work(self, jid: str) -> Work | None:
        """Return the running job with ``jid``, or None."""
        for _, _, work in self:
            if work.payload.jid == jid:
                return work
        return None
