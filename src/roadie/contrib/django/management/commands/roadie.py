"""``manage.py roadie ...``: the ``roadie`` command with ``settings.ROADIE`` applied."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Run a roadie command, such as 'worker', with settings.ROADIE applied, after importing "
        "the jobs modules of every installed app. 'manage.py roadie worker --help' lists the worker's options."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "roadie_args", nargs=argparse.REMAINDER, metavar="ROADIE_ARGUMENTS",
            help="the roadie command and its options, for example: worker -c 5 -q critical,2 -q default",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from roadie.contrib._cli import environment_for, run_roadie_command
        from roadie.contrib.django import autodiscover
        from roadie.contrib.django.conf import load

        autodiscover()
        settings, django_options = load()
        run_roadie_command(
            options["roadie_args"] or ["--help"],
            prog_name="manage.py roadie",
            environment=environment_for(settings, django_options.configured),
        )
