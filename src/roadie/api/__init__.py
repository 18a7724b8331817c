"""Read and manage what roadie and Sidekiq keep in Redis: the admin API.

The classes carry the names of Sidekiq's API, with Python methods::

    from roadie.api import DeadSet, Queue, RetrySet, Stats

    Stats().enqueued                         # jobs waiting in all queues
    for job in Queue("default"):             # newest first, read in pages
        if job.job_class == "HardJob":
            job.delete()
    RetrySet().retry_all()                   # every retry back to its queue now
    DeadSet().find_job(jid).retry()

* :class:`Stats`: counters, sizes, latency and daily history.
* :class:`Queue`: one queue list; :meth:`Queue.all` lists them.
* :class:`ScheduledSet`, :class:`RetrySet`, :class:`DeadSet`: the sorted sets,
  whose entries are :class:`SortedEntry` objects.
* :class:`ProcessSet` of :class:`Process`: live workers, quiet and stop them.
* :class:`WorkSet` of :class:`Work`: the jobs running right now.
* :class:`Metrics`: runs, failures, run time and histograms per job.

Every class takes ``client``, a :class:`roadie.Client` whose connection and
namespace it uses, or ``url``/``settings`` to build one; without either it
uses the process-wide client that ``roadie.configure`` sets. Nothing connects
until the first read. Redis that cannot be reached raises
:class:`~roadie.errors.RedisUnavailableError`.

Jobs are removed from lists and sorted sets by the exact bytes read from
Redis, so a payload written by Ruby, with its own key order and spacing, is
found and removed as it is. Iteration reads in pages and follows concurrent
pushes, pops and deletes without repeating or skipping a job that stays in
place, with one exception noted at :meth:`Queue.__iter__`.

Times are float epoch seconds, and latencies are seconds, everywhere;
timestamps that Sidekiq 8 writes as integer milliseconds are converted.
"""

from roadie.api.metrics import JobMetrics, JobReport, Metrics, MetricsReport
from roadie.api.processes import Process, ProcessSet, Work, WorkSet
from roadie.api.queues import Queue, QueueSummary
from roadie.api.records import JobRecord
from roadie.api.sets import (
    DeadSet,
    JobSet,
    RetrySet,
    ScheduledSet,
    SearchCursor,
    SearchResult,
    SortedEntry,
    SortedSet,
)
from roadie.api.stats import Stats

__all__ = [
    "DeadSet",
    "JobMetrics",
    "JobRecord",
    "JobReport",
    "JobSet",
    "Metrics",
    "MetricsReport",
    "Process",
    "ProcessSet",
    "Queue",
    "QueueSummary",
    "RetrySet",
    "ScheduledSet",
    "SearchCursor",
    "SearchResult",
    "SortedEntry",
    "SortedSet",
    "Stats",
    "Work",
    "WorkSet",
]
