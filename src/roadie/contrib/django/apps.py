"""The Django app config: applies ``settings.ROADIE`` once the app registry is ready."""

from __future__ import annotations

from django.apps import AppConfig


class RoadieConfig(AppConfig):
    name = "roadie.contrib.django"
    label = "roadie"
    verbose_name = "roadie"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from roadie.contrib.django import conf

        conf.install()
        setting_changed.connect(conf.reinstall_on_change, dispatch_uid="roadie.contrib.django.conf")
