"""The ``grounding`` command line: thin wrappers that parse arguments, call the library, print."""

from __future__ import annotations

from grounding.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    app()
