"""Run the ``roadie`` command as ``python -m roadie``."""

from roadie.cli.main import main

if __name__ == "__main__":
    main()
