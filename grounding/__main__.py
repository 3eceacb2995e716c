"""``python -m grounding``: the same as the ``grounding`` command."""

from grounding.cli import main

main()
