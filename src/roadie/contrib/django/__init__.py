"""Django integration: settings from ``settings.ROADIE``, jobs held until commit, a command and the dashboard.

::

    # settings.py
    INSTALLED_APPS = [..., "roadie.contrib.django"]
    ROADIE = {"redis_url": "redis://localhost:6379/0", "concurrency": 5}

    # urls.py (optional; needs the web extra)
    urlpatterns = [..., path("roadie/", include("roadie.contrib.django.urls"))]

Then run ``python manage.py roadie worker``. The app:

- makes ``settings.ROADIE`` (the keys of roadie.yml) roadie's process default;
- pushes a job enqueued inside ``transaction.atomic()`` when the transaction
  commits, and drops it on rollback (``push_immediately()`` opts a block
  out, ``ROADIE["defer_until_commit"] = False`` the whole project);
- closes stale database connections around each job, as Django does around
  each request;
- adds ``manage.py roadie ...``, which imports every installed app's
  ``jobs`` module and runs the ``roadie`` command with these settings.

:mod:`roadie.contrib.django.conf` lists the Django-only keys of ``ROADIE``.
Requires the ``django`` extra (``pip install 'roadie[django]'``).
"""

from __future__ import annotations

from roadie.contrib.django.transactions import push_immediately

__all__ = ["autodiscover", "push_immediately"]


def autodiscover() -> None:
    """Import the job modules (``ROADIE["autodiscover"]``, default ``jobs``) of every installed app."""
    from django.utils.module_loading import autodiscover_modules

    from roadie.contrib.django.conf import installed_options

    autodiscover_modules(*installed_options().autodiscover)
