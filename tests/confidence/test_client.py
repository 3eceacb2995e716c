"""Confidence through the clients, against the loopback noisy fixture detector."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from grounding import AsyncClient, Client
from grounding.confidence import ConfidenceOptions, LogprobsUnavailableError
from grounding.datasets.synthetic import write_synthetic
from grounding.errors import ConfigurationError
from grounding.testing import ScriptedServer, chat
from tests.noisy_server import NoisyDetector

CLASSES = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    root = write_synthetic(tmp_path_factory.mktemp("synth"), n=1, seed=4)
    return str(next((root / "images").iterdir()))


def test_consistency_sends_k_seeded_samples_each_cached_on_its_own(image, tmp_path) -> None:
    cache = str(tmp_path / "cache.sqlite")
    with ScriptedServer(NoisyDetector(seed=3)) as server:
        options = ConfidenceOptions("consistency", samples=4)
        with Client("openai", base_url=server.url, cache=cache, confidence=options) as client:
            first = client.detect(image, CLASSES)
        seeds = sorted(r.body["seed"] for r in server.chat_requests)
        assert seeds == [0, 1, 2, 3] and all(r.body["temperature"] == 0.7 for r in server.chat_requests)
        assert len(first.boxes) and np.isfinite(first.confidence).all()
        assert first.response.usage.prompt_tokens == 4 * 900  # the fixture's usage, summed
        # a rerun with another fusion setting sends nothing: every sample is in the cache
        again_options = ConfidenceOptions("consistency", samples=4, iou=0.3)
        with Client("openai", base_url=server.url, cache=cache, confidence=again_options) as client:
            again = client.detect(image, CLASSES)
        assert len(server.chat_requests) == 4 and again.response.cached


def test_the_async_twin_sends_the_samples_concurrently(image) -> None:
    async def go():
        async with AsyncClient("openai", base_url=server.url, confidence="consistency") as client:
            return await client.detect(image, CLASSES)

    with ScriptedServer(NoisyDetector(seed=3)) as server:
        result = asyncio.run(go())
    assert len(server.chat_requests) == 5 and np.isfinite(result.confidence).all()


def test_logprobs_are_asked_for_and_read(image) -> None:
    with ScriptedServer(NoisyDetector(seed=3, p_extra=1.0)) as server:
        with Client("openai", base_url=server.url, confidence="logprobs", stream=True) as client:
            result = client.detect(image, CLASSES)
        body = server.chat_requests[0].body
    assert body["logprobs"] is True and body["stream"] is False  # logprobs come whole, not streamed
    assert len(result.boxes) and np.isfinite(result.confidence).all()


def test_a_server_without_logprobs_fails_with_one_clear_line(image) -> None:
    answer = chat('[{"label": "circle", "bbox_2d": [1, 1, 500, 500]}]')
    with (
        ScriptedServer(answer) as server,
        Client("openai", base_url=server.url, confidence="logprobs") as client,
        pytest.raises(LogprobsUnavailableError, match="no token log-probabilities"),
    ):
        client.detect(image, CLASSES)


@pytest.mark.parametrize("provider", ["zai", "bigmodel"])
def test_providers_without_logprobs_are_refused_before_any_request(provider) -> None:
    with pytest.raises(ConfigurationError, match="consistency"):
        Client(provider, api_key="k", confidence="logprobs")


def test_zai_samples_with_do_sample_in_its_temperature_range() -> None:
    from grounding.confidence import request_extras

    extras = request_extras(ConfidenceOptions("consistency", samples=2, temperature=1.5), "zai")
    assert extras == [{"do_sample": True, "temperature": 0.99, "seed": 0},
                      {"do_sample": True, "temperature": 0.99, "seed": 1}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "sometimes"}, "unknown confidence method"),  # a typo
        ({"method": "consistency", "samples": 1}, "at least 2 samples"),  # nothing to agree on
        ({"method": "consistency", "iou": 0}, "IoU"),  # an IoU that matches nothing
    ],
)
def test_bad_options_are_one_line(kwargs, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ConfidenceOptions(**kwargs)


def test_the_users_temperature_is_the_sampling_temperature() -> None:
    with Client("openai", base_url="http://127.0.0.1:9/v1", confidence="consistency", temperature=0.4) as client:
        assert {e["temperature"] for e in client.request_extras} == {0.4}
    with pytest.raises(ConfigurationError, match="temperature"):
        Client("openai", base_url="http://127.0.0.1:9/v1", confidence="consistency", temperature=0)
