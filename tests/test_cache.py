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


def test_an_answer_from_one_server_never_comes_back_from_another(fast_retry, tmp_path) -> None:
    """The README's fixture server, then a "real" one: the fixture must not be replayed."""
    from tests.server import ScriptedServer

    cache = ResponseCache(tmp_path / "c.sqlite")
    with ScriptedServer(chat(BOX)) as fixture, ScriptedServer(chat("[[0,0,500,500]]")) as real:
        with Client("openai", base_url=fixture.url, cache=cache, retry=fast_retry) as client:
            client.locate(photo(), "the car")
        with Client("openai", base_url=real.url, cache=cache, retry=fast_retry) as client:
            result = client.locate(photo(), "the car")
        assert not result.response.cached and len(real.chat_requests) == 1
        assert result.boxes.tolist() == [[0.0, 0.0, 320.0, 240.0]]


def test_the_provider_is_part_of_the_key(server, fast_retry, tmp_path) -> None:
    server.default = chat(BOX)
    cache = ResponseCache(tmp_path / "c.sqlite")
    for provider in ("openai", "zai"):
        with Client(provider, base_url=server.url, api_key="k", cache=cache, retry=fast_retry) as client:
            assert not client.locate(photo(), "the car", model="glm-4.1v-thinking").response.cached
    assert len(server.chat_requests) == 2


def test_a_changed_image_behind_the_same_url_is_asked_again(server, fast_retry, tmp_path) -> None:
    import io

    def jpeg(shade: int) -> bytes:
        buffer = io.BytesIO()
        photo(64, 48).point(lambda _: shade).save(buffer, "JPEG")
        return buffer.getvalue()

    server.default = chat(BOX)
    cache = ResponseCache(tmp_path / "c.sqlite")
    with Client("openai", base_url=server.url, cache=cache, retry=fast_retry) as client:
        server.images["p.jpg"] = jpeg(10)
        first = client.locate(server.image_url("p.jpg"), "the car")
        again = client.locate(server.image_url("p.jpg"), "the car")
        server.images["p.jpg"] = jpeg(200)
        changed = client.locate(server.image_url("p.jpg"), "the car")
    assert not first.response.cached and again.response.cached and not changed.response.cached
    sent = server.chat_requests[0].body["messages"][0]["content"][0]["image_url"]["url"]
    assert sent == server.image_url("p.jpg")  # passed through by default


def test_download_images_sends_the_bytes_not_the_url(server, fast_retry) -> None:
    import io

    buffer = io.BytesIO()
    photo(64, 48).save(buffer, "PNG")
    server.images["p.png"] = buffer.getvalue()
    server.default = chat(BOX)
    with Client("openai", base_url=server.url, retry=fast_retry, download_images=True) as client:
        client.locate(server.image_url("p.png"), "the car")
    sent = server.chat_requests[0].body["messages"][0]["content"][0]["image_url"]["url"]
    assert sent.startswith("data:image/")


def test_clear_selects_by_model_and_by_age(tmp_path) -> None:
    import sqlite3
    import time

    cache = ResponseCache(tmp_path / "c.sqlite")
    for i, model in enumerate(["glm-4.5v", "glm-4.5v", "glm-4.6v", "qwen2.5-vl"]):
        cache.put(f"k{i}", {"content": str(i)}, model=model)
    with sqlite3.connect(cache.path) as db:  # k0 and k2 were stored ten days ago
        db.execute("UPDATE responses SET created = ? WHERE key IN ('k0', 'k2')", (time.time() - 10 * 86400,))
    assert cache.clear(model="glm-4.5v", older_than=7 * 86400) == 1  # k0 only
    assert cache.get("k0") is None and cache.get("k1") is not None
    assert cache.clear(older_than=7 * 86400) == 1  # k2
    assert cache.clear(model="qwen2.5-vl") == 1
    assert cache.info()["entries"] == 1


def test_cache_clear_command(tmp_path) -> None:
    from typer.testing import CliRunner

    from grounding.cli import app

    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put("a", {"content": "x"}, model="glm-4.5v")
    cache.put("b", {"content": "y"}, model="glm-4.6v")
    outcome = CliRunner().invoke(app, ["cache", "clear", "--path", str(path), "--model", "glm-4.6v", "--older-than", "0d"])
    assert outcome.exit_code == 0 and "removed 1 cached answer(s) of glm-4.6v" in outcome.stdout
    bad = CliRunner().invoke(app, ["cache", "clear", "--path", str(path), "--older-than", "soon"])
    assert bad.exit_code == 2
    assert ResponseCache(path).info()["entries"] == 1


def test_an_http_image_without_known_bytes_is_not_cached(server, fast_retry, tmp_path) -> None:
    """complete() called with a URL it has no digest for cannot key it honestly."""
    server.default = chat(BOX)
    cache = ResponseCache(tmp_path / "c.sqlite")
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://example.invalid/p.jpg"}}, {"type": "text", "text": "x"}]}]
    with Client("openai", base_url=server.url, cache=cache, retry=fast_retry) as client:
        client.complete(messages)
        assert not client.complete(messages).cached
        client.complete(messages, image_digests={"http://example.invalid/p.jpg": "ab" * 32})
        assert client.complete(messages, image_digests={"http://example.invalid/p.jpg": "ab" * 32}).cached
    assert len(server.chat_requests) == 3
