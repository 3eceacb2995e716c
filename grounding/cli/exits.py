"""Exit codes and one-line errors, the same in every command.

=====  ======================================================================
code   meaning
=====  ======================================================================
0      done
1      the API refused (key, arrears, quota, blocked content, bad request, …)
2      a setting, input or output path is wrong (nothing was sent, or the
       endpoint cannot be reached)
3      stopped early on purpose (a cost limit, transient failures): rerun
4      internal error: a bug in grounding (GROUNDING_DEBUG=1 shows the traceback)
130    interrupted (Ctrl-C); what was finished is kept
=====  ======================================================================

>>> from grounding.errors import ConfigurationError
>>> exit_code_for(ConfigurationError("no API key"))
2
>>> one_line("Insufficient balance.. Fix the account.\\n(code 1113)")
'Insufficient balance. Fix the account. (code 1113)'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.markup import escape

from grounding.cli.options import err
from grounding.errors import APIConnectionError, APIError, GroundingError

__all__ = [
    "API_REFUSED",
    "BAD_INPUT",
    "INTERNAL",
    "INTERRUPTED",
    "OK",
    "STOPPED_EARLY",
    "exit_code_for",
    "fail",
    "fail_cleanly",
    "one_line",
    "warn",
]

OK = 0
API_REFUSED = 1
BAD_INPUT = 2
STOPPED_EARLY = 3
INTERNAL = 4
INTERRUPTED = 130

_DOUBLE_STOP = re.compile(r"(?<![./])\.\s*\.(?!\.)(?=\s|$)")  # not in a path: ../x
_SPACE = re.compile(r"\s+")


def one_line(text: object) -> str:
    """``text`` on one line, with no doubled full stop (``"..."`` is left alone)."""
    return _DOUBLE_STOP.sub(".", _SPACE.sub(" ", str(text)).strip())


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error: 1 an API refusal, 2 a wrong setting or input, 130 Ctrl-C.

    An endpoint that cannot be reached at all is a setting (the URL) to fix: 2.
    """
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(exc, APIConnectionError):
        return BAD_INPUT if exc.unreachable else API_REFUSED
    if isinstance(exc, APIError):
        return API_REFUSED
    if isinstance(exc, (GroundingError, OSError)):
        return BAD_INPUT
    return INTERNAL


def _describe(exc: BaseException) -> str:
    if isinstance(exc, APIError) and not isinstance(exc, APIConnectionError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def fail(message: object, code: int = BAD_INPUT) -> NoReturn:
    """Print ``error: message`` on one line (brackets shown as written) and exit with ``code``."""
    err.print(f"[red]error:[/] {escape(one_line(message))}")
    raise typer.Exit(code)


def warn(message: object) -> None:
    """Print ``warning: message`` on one line, brackets shown as written."""
    err.print(f"[yellow]warning:[/] {escape(one_line(message))}")


@contextmanager
def fail_cleanly(interrupted: str = "interrupted") -> Iterator[None]:
    """Turn the toolkit's errors into one line and the exit code of :func:`exit_code_for`.

    ``ConfigurationError``, ``ImageError``, dataset errors and unreadable or unwritable files
    exit 2; API refusals exit 1; Ctrl-C prints ``interrupted`` and exits 130. Anything else
    is a bug and is left to the command line's last-resort handler (exit 4).
    """
    try:
        yield
    except KeyboardInterrupt:
        err.print(f"[yellow]{escape(one_line(interrupted))}[/]")
        raise typer.Exit(INTERRUPTED) from None
    except (GroundingError, OSError) as exc:
        fail(_describe(exc), exit_code_for(exc))
