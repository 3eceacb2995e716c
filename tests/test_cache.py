"""The response cache: hits skip the network, keys cover what matters, writers can race."""

from __future__ import annotations

import multiprocessing

from grounding import Client, ResponseCache
from grounding.cache import cache_key
from tests.conftest import photo
from tests.server import chat

BOX = "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"


def test_a_repeated_request_is_answered_from_the_cache(server, fast_retry, tmp_path) -> None:
    server.default = chat(BOX)
    cache = ResponseCache(tmp_path / "c.sqlite")
    with Client("openai", base_url=server.url, api_key="sk-SECRET", cache=cache, retry=fast_retry) as client:
        first = client.locate(photo(), "the car")
        again = client.locate(photo(), "the car")
        client.locate(photo(), "the car", thinking=True)  # other parameters: a new request
        client.locate(photo(), "the bus")  # other prompt
        client.locate(photo(641, 480), "the car")  # other image
    assert len(server.chat_requests) == 4
    assert not first.response.cached and again.response.cached
    assert again.boxes.tolist() == first.boxes.tolist()
    assert again.response.usage == first.response.usage
    cache.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"SECRET" not in stored


def test_key_ignores_the_image_encoding_but_not_its_bytes() -> None:
    def msgs(url: str) -> list:
        return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "x"}]}]

    a = cache_key(msgs("data:image/jpeg;base64,AAAA"), model="m", params={"t": 1})
    assert a == cache_key(msgs("data:image/jpeg;base64,AAAA"), model="m", params={"t": 1})
    assert a != cache_key(msgs("data:image/jpeg;base64,AAAB"), model="m", params={"t": 1})
    assert a != cache_key(msgs("data:image/jpeg;base64,AAAA"), model="m2", params={"t": 1})
    assert a != cache_key(msgs("data:image/jpeg;base64,AAAA"), model="m", params={"t": 2})


def _writer(path: str, worker: int) -> None:
    cache = ResponseCache(path)
    for i in range(40):
        cache.put(f"{worker}-{i}", {"content": f"answer {worker} {i}"}, model="m")


def test_concurrent_writers_from_several_processes(tmp_path) -> None:
    path = str(tmp_path / "shared.sqlite")
    ResponseCache(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    cache = ResponseCache(path)
    assert cache.info()["entries"] == 160
    assert cache.get("3-39") == {"content": "answer 3 39"}
    assert cache.clear() == 160 and cache.info()["entries"] == 0
