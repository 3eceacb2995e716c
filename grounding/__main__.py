"""``python -m grounding``: the same as the ``grounding`` command."""

from grounding.cli import main

if __name__ == "__main__":
    main()
