"""The worker runtime: fetch jobs from Redis, run them, record what happened.

:class:`~roadie.worker.launcher.Launcher` starts and stops the parts.
"""
