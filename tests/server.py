"""The scripted loopback server the tests use: it lives in :mod:`grounding.testing` (so that
``python -m grounding.testing`` runs it from any directory); this module re-exports it.

All answers it gives are fixtures written for tests, not model output.
"""

from __future__ import annotations

from grounding.testing import (
    Recorded,
    Reply,
    ScriptedServer,
    chat,
    endless,
    error,
    gzip_bomb,
    main,
    openai_error,
    sse,
    trickle,
    vllm_error,
)

__all__ = [
    "Recorded",
    "Reply",
    "ScriptedServer",
    "chat",
    "endless",
    "error",
    "gzip_bomb",
    "openai_error",
    "sse",
    "trickle",
    "vllm_error",
]

if __name__ == "__main__":
    raise SystemExit(main())
