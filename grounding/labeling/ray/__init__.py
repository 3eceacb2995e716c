"""Labeling on a Ray cluster: the same job as ``grounding label``, on many machines.

``grounding label INPUT… --engine ray [--ray-address ADDR] [--ray-actors N]`` or, from Python,
:func:`run_ray_job` on a :class:`~grounding.labeling.JobStore`. The driver keeps the job store
(``job.sqlite``: resume and ``grounding export`` work as for any job); the actors
(:class:`RayLabeler`) read each image by its path inside the worker and label it with an
:class:`~grounding.AsyncClient`. Install with ``pip install -e ".[ray]"``.

>>> from grounding.labeling import JobStore, LabelJob, find_images, register
>>> from grounding.labeling.ray import run_ray_job  # doctest: +SKIP
>>> store = JobStore("labels/job.sqlite")  # doctest: +SKIP
>>> register(store, find_images(["/mnt/photos"]), None)  # doctest: +SKIP
>>> job = LabelJob(classes=["scratch"], model="glm-4.5v", prompt="…", concurrency=64)
>>> run_ray_job(job, store, {"provider": "zai"}, actors=8)  # doctest: +SKIP
"""

from __future__ import annotations

try:
    import ray as _ray  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    from grounding.errors import ConfigurationError

    raise ConfigurationError(
        "Ray is not installed: pip install 'grounding[ray]' (or 'ray[data]')"
    ) from None

from grounding.labeling.ray._driver import client_options, ray_runner, run_ray_job
from grounding.labeling.ray._worker import OUTPUT_COLUMNS, Coordinator, RayLabeler

__all__ = [
    "OUTPUT_COLUMNS",
    "Coordinator",
    "RayLabeler",
    "client_options",
    "ray_runner",
    "run_ray_job",
]
