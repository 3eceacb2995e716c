"""Batch auto-labeling of image folders: resumable, concurrent, cost-aware.

The pieces: :func:`find_images` streams the inputs, :class:`JobStore` keeps one SQLite row per
image, :func:`run_job` labels the pending ones through an :class:`~grounding.AsyncClient`
with adaptive concurrency, and :func:`grounding.export.export_job` writes the datasets.
``grounding label`` ties them together.
"""

from __future__ import annotations

from grounding.labeling.classes import ClassMatcher
from grounding.labeling.cost import PRICES, Price, estimate_tokens, image_tokens
from grounding.labeling.inputs import (
    EXTENSIONS,
    Item,
    file_problem,
    find_images,
    in_shard,
    key_problem,
    parse_shard,
)
from grounding.labeling.lock import JobLock, JobLockedError, LockError
from grounding.labeling.runner import AdaptiveLimit, JobStats, LabelJob, register, run_job
from grounding.labeling.store import JobStore, Row, StoreError

__all__ = [
    "EXTENSIONS",
    "PRICES",
    "AdaptiveLimit",
    "ClassMatcher",
    "Item",
    "JobLock",
    "JobLockedError",
    "JobStats",
    "JobStore",
    "LabelJob",
    "LockError",
    "Price",
    "Row",
    "StoreError",
    "estimate_tokens",
    "file_problem",
    "find_images",
    "image_tokens",
    "in_shard",
    "key_problem",
    "parse_shard",
    "register",
    "run_job",
]
