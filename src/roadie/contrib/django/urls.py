"""URLs of the roadie dashboard, to include under a prefix of your choice::

    path("roadie/", include("roadie.contrib.django.urls"))

Only active staff users get in, unless ``ROADIE["dashboard_permission"]``
names another check. Anonymous visitors are redirected to ``LOGIN_URL``, and
other users get 403.
"""

from __future__ import annotations

from django.urls import re_path

from roadie.contrib.django.views import dashboard

app_name = "roadie"

urlpatterns = [
    re_path(r"^(?P<path>.*)$", dashboard, name="dashboard"),
]
