"""``python -m ecomap``: the command line."""

from ecomap.cli import main

if __name__ == "__main__":  # not again in worker processes started by the web service
    main()
