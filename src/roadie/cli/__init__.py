"""Entry points: the ``roadie`` command."""
