"""The client against the scripted server on 127.0.0.1: answers, errors, retries, streams."""

from __future__ import annotations

import asyncio
import base64
import socket
import time

import pytest

import grounding
from grounding import (
    AccountError,
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    ContentBlockedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from grounding.client import resolve_settings
from tests.conftest import assert_close, photo
from tests.server import Reply, chat, error, sse

BOX = "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"
PIXELS = [[64.0, 96.0, 192.0, 192.0]]  # BOX on a 640x480 image


def make(server, fast_retry, **kwargs) -> Client:
    return Client("openai", base_url=server.url, api_key="sk-test-SECRET", retry=fast_retry, **kwargs)


@pytest.mark.parametrize(
    "reply",
    [
        # markers, leading newline as the API sends it
        chat("\n" + BOX),
        # markers stripped by the serving stack
        chat("The box is [[100,200,300,400]]."),
        # thinking left in the content: drafts ignored
        chat("<think>maybe [[1,1,2,2]]</think>" + BOX),
        # reasoning in reasoning_content (Z.AI, SGLang)
        chat(BOX, reasoning="looking at [[5,5,6,6]]"),
        # reasoning in reasoning (newer vLLM)
        chat(BOX, reasoning="drafts [[5,5,6,6]]", reasoning_key="reasoning"),
        # labelled JSON inside the markers
        chat('<|begin_of_box|>[{"label": "car", "bbox_2d": [100,200,300,400]}]<|end_of_box|>'),
    ],
)
def test_canned_glm_answers(server, fast_retry, reply: Reply) -> None:
    server.script(reply)
    with make(server, fast_retry) as client:
        result = client.locate(photo(), "the car")
    assert_close(result.boxes, PIXELS, 4)
    assert result.response.usage.prompt_tokens == 1200
    assert result.response.latency > 0
    assert "[[" in result.response.raw or "bbox_2d" in result.response.raw


def test_empty_content_falls_back_to_the_reasoning_with_a_warning(server, fast_retry) -> None:
    server.script(chat("", reasoning="The answer is " + BOX))
    with make(server, fast_retry) as client:
        result = client.locate(photo(), "the car")
    assert_close(result.boxes, PIXELS, 4)
    assert any("final answer span of the reasoning" in w for w in result.warnings)


def test_request_shape_image_first_and_thinking_switch(server, fast_retry) -> None:
    server.script(chat(BOX), chat(BOX))
    with make(server, fast_retry) as client:
        client.locate(photo(), "the car", model="glm-4.5v")
        client.locate(photo(), "the car", model="glm-4.5v", thinking=True)
    off, on = (r.body for r in server.chat_requests)
    content = off["messages"][0]["content"]
    assert content[0]["type"] == "image_url" and content[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert content[1] == {"type": "text", "text": "Help me to locate the car in the image and give me its bounding boxes."}
    assert off["chat_template_kwargs"] == {"enable_thinking": False}  # vLLM / SGLang form
    assert on["chat_template_kwargs"] == {"enable_thinking": True}
    assert server.chat_requests[0].headers["Authorization"] == "Bearer sk-test-SECRET"


def test_zai_thinking_form(server, fast_retry) -> None:
    server.script(chat(BOX))
    with Client("zai", base_url=server.url, api_key="k", retry=fast_retry) as client:
        client.locate(photo(), "x")
    assert server.chat_requests[0].body["thinking"] == {"type": "disabled"}


def test_model_without_a_switch_gets_no_thinking_field(server, fast_retry) -> None:
    server.script(chat(BOX))
    with make(server, fast_retry) as client:
        client.locate(photo(), "x", model="glm-4.1v-thinking")
    body = server.chat_requests[0].body
    assert "thinking" not in body and "chat_template_kwargs" not in body


@pytest.mark.parametrize("code", ["1302", "1303", "1305", "1312"])
def test_rate_limits_are_retried(server, fast_retry, code: str) -> None:
    server.script(error(429, code, "slow down"), error(429, code, "slow down"), chat(BOX))
    with make(server, fast_retry) as client:
        result = client.locate(photo(), "x")
    assert_close(result.boxes, PIXELS, 4)
    assert len(server.chat_requests) == 3 and result.response.attempts == 3


@pytest.mark.parametrize(
    ("reply", "exc"),
    [
        # arrears: a 429 that must not be retried
        (error(429, "1113", "Insufficient balance"), AccountError),
        # wrong key
        (error(401, "1001", "Authentication token invalid"), AuthenticationError),
        # wrong key, no business code
        (error(401, None, "Incorrect API key provided"), AuthenticationError),
        # daily quota
        (error(429, "1308", "Usage limit reached"), QuotaExceededError),
        # unsafe content
        (error(400, "1301", "unsafe content"), ContentBlockedError),
        # bad parameters
        (error(400, "1214", "bad parameter"), BadRequestError),
        # vLLM: too many images
        (Reply(status=400, body={"object": "error", "message": "At most 1 image(s) may be provided", "code": 400}), BadRequestError),
        # error object inside an HTTP 200
        (Reply(body={"error": {"code": "1113", "message": "arrears"}}), AccountError),
        # the safety filter cut the answer
        (chat("partial", finish_reason="sensitive"), ContentBlockedError),
    ],
)
def test_fatal_errors_fail_fast(server, fast_retry, reply: Reply, exc: type) -> None:
    server.script(reply)
    with make(server, fast_retry) as client, pytest.raises(exc) as info:
        client.locate(photo(), "x")
    assert len(server.chat_requests) == 1
    assert "SECRET" not in str(info.value) and "SECRET" not in repr(info.value)


def test_server_errors_are_retried_then_raised(server, fast_retry) -> None:
    server.default = error(500, None, "internal error")
    with make(server, fast_retry) as client, pytest.raises(ServerError):
        client.locate(photo(), "x")
    assert len(server.chat_requests) == fast_retry.max_retries + 1


@pytest.mark.parametrize("reply", [error(502, None, "bad gateway"), error(200, "1234", "network error"), error(408, None, "timeout")])
def test_transient_failures_then_success(server, fast_retry, reply: Reply) -> None:
    server.script(reply, chat(BOX))
    with make(server, fast_retry) as client:
        assert_close(client.locate(photo(), "x").boxes, PIXELS, 4)


def test_retry_after_is_honoured(server, fast_retry) -> None:
    server.script(error(429, "1302", "busy", retry_after="0.4"), chat(BOX))
    with make(server, fast_retry) as client:
        start = time.perf_counter()
        client.locate(photo(), "x")
    assert time.perf_counter() - start >= 0.35  # the policy alone would wait ~0.01 s


def test_answers_slower_than_the_timeout(server, fast_retry) -> None:
    # the timeout is the whole request's budget: one hung attempt, not one per retry
    server.default = chat(BOX, delay=1.0)
    with make(server, fast_retry, timeout=0.2) as client, pytest.raises(APITimeoutError):
        client.locate(photo(), "x")
    assert len(server.chat_requests) == 1


def test_dropped_connection_is_retried(server, fast_retry) -> None:
    server.script(Reply(drop=True), chat(BOX))
    with make(server, fast_retry) as client:
        assert_close(client.locate(photo(), "x").boxes, PIXELS, 4)
    assert len(server.chat_requests) == 2


def test_unreachable_endpoint(fast_retry) -> None:
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with Client("openai", base_url=url, retry=fast_retry) as client, pytest.raises(APIConnectionError, match="cannot reach"):
        client.locate(photo(), "x")


def test_stream(server, fast_retry) -> None:
    server.script(sse(["The box is ", "<|begin_of_box|>[[100,200,", "300,400]]<|end_of_box|>"], reasoning=["hmm"]))
    with make(server, fast_retry, stream=True) as client:
        result = client.locate(photo(), "x")
    assert_close(result.boxes, PIXELS, 4)
    assert result.response.reasoning == "hmm" and result.response.usage.completion_tokens == 30
    assert server.chat_requests[0].body["stream"] is True


def test_stream_error_in_the_middle_is_retried(server, fast_retry) -> None:
    server.script(sse(["The box", " is", " here"], error_after=1, code="1305"), sse([BOX]))
    with make(server, fast_retry, stream=True) as client:
        assert_close(client.locate(photo(), "x").boxes, PIXELS, 4)
    assert len(server.chat_requests) == 2


def test_stream_fatal_error_in_the_middle(server, fast_retry) -> None:
    server.script(sse(["a", "b"], error_after=1, code="1301"))
    with make(server, fast_retry, stream=True) as client, pytest.raises(ContentBlockedError):
        client.locate(photo(), "x")


def test_detect_sends_classes_and_reads_labels(server, fast_retry) -> None:
    server.script(chat('[{"label": "scratch-1", "bbox_2d": [100,200,300,400]}, {"label": "dent", "bbox_2d": [500,500,600,600]}]'))
    with make(server, fast_retry) as client:
        result = client.detect(photo(), "scratch, dent")
    assert result.labels == ["scratch-1", "dent"]
    assert "scratch, dent" in server.chat_requests[0].body["messages"][0]["content"][1]["text"]


def test_qwen25_gets_its_own_input_size(server, fast_retry) -> None:
    # 1280x960 is sent at smart_resize size 1288x952; the answer is in those pixels
    server.script(chat('[{"bbox_2d": [0, 0, 1288, 952]}]'))
    with make(server, fast_retry) as client:
        result = client.locate(photo(1280, 960), "x", model="qwen2.5-vl-7b")
    assert_close(result.boxes, [[0, 0, 1280, 960]], 4)


def test_key_never_appears_in_repr(server, fast_retry) -> None:
    with make(server, fast_retry) as client:
        assert "SECRET" not in repr(client) and "SECRET" not in repr(client.settings)


@pytest.mark.parametrize(
    ("args", "env", "provider", "url"),
    [
        # defaults: Z.AI with its key
        ({}, {"ZAI_API_KEY": "k"}, "zai", "https://api.z.ai/api/paas/v4"),
        # only a BigModel key
        ({}, {"ZHIPUAI_API_KEY": "k"}, "bigmodel", "https://open.bigmodel.cn/api/paas/v4"),
        # a base URL means an OpenAI-compatible server, key optional
        ({"base_url": "http://h:8000/v1/"}, {}, "openai", "http://h:8000/v1"),
        # environment variables
        ({}, {"GROUNDING_PROVIDER": "openai", "GROUNDING_BASE_URL": "http://e/v1"}, "openai", "http://e/v1"),
        # argument beats environment
        ({"provider": "bigmodel", "api_key": "k"}, {"GROUNDING_PROVIDER": "zai"}, "bigmodel", "https://open.bigmodel.cn/api/paas/v4"),
    ],
)
def test_resolve_settings(args: dict, env: dict, provider: str, url: str) -> None:
    settings = resolve_settings(env=env, **args)
    assert (settings.provider.name, settings.base_url) == (provider, url)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "set ZAI_API_KEY"),
        ({"provider": "bigmodel"}, "set ZHIPUAI_API_KEY"),
        ({"provider": "openai"}, "needs a base URL"),
        ({"provider": "nope"}, "unknown provider 'nope'"),
    ],
)
def test_settings_errors_say_what_to_set(args: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_settings(env={}, **args)


def test_async_client_concurrently(server, fast_retry) -> None:
    server.default = chat(BOX, delay=0.3)

    async def run() -> list:
        async with AsyncClient("openai", base_url=server.url, retry=fast_retry) as client:
            return await asyncio.gather(*(client.locate(photo(), f"thing {i}") for i in range(8)))

    start = time.perf_counter()
    results = asyncio.run(run())
    assert all(r.boxes.tolist() == PIXELS for r in results)
    assert len(server.chat_requests) == 8
    assert time.perf_counter() - start < 8 * 0.3  # they overlapped


def test_async_retries_and_stream(server, fast_retry) -> None:
    server.script(error(429, "1302", "busy"), sse([BOX]))

    async def run():
        async with AsyncClient("openai", base_url=server.url, retry=fast_retry, stream=True) as client:
            return await client.locate(photo(), "x")

    assert_close(asyncio.run(run()).boxes, PIXELS, 4)


def test_async_fatal(server, fast_retry) -> None:
    server.script(error(429, "1113", "arrears"))

    async def run():
        async with AsyncClient("openai", base_url=server.url, retry=fast_retry) as client:
            await client.locate(photo(), "x")

    with pytest.raises(AccountError):
        asyncio.run(run())
    assert len(server.chat_requests) == 1


def test_rate_limit_error_is_retryable_type() -> None:
    assert RateLimitError.retryable and not AccountError.retryable


# --- provider fidelity --------------------------------------------------------------------


def test_zai_request_body_matches_the_official_sdk_form(server, fast_retry) -> None:
    """What zai-sdk 0.2.x sends (src/zai/api_resource/chat/completions.py, and the same in
    zhipuai 2.1.x): the image part first with the bare base64 (``drop_prefix_image_data``
    strips ``data:image/…;base64,``), the thinking object, ``do_sample: false`` with
    ``temperature: 0.01`` for a temperature <= 0, no ``stream_options``."""
    server.script(sse([BOX]))
    with Client("zai", base_url=server.url, api_key="k", retry=fast_retry, temperature=0, stream=True) as client:
        client.locate(photo(), "the car")
    request = server.chat_requests[0]
    body = request.body
    image, text = body["messages"][0]["content"]
    assert image["type"] == "image_url" and text["type"] == "text"
    assert not image["image_url"]["url"].startswith("data:")
    assert base64.b64decode(image["image_url"]["url"])[:3] == b"\xff\xd8\xff"  # a JPEG
    assert body["thinking"] == {"type": "disabled"}
    assert body["do_sample"] is False and body["temperature"] == 0.01
    assert "stream_options" not in body and "chat_template_kwargs" not in body
    assert "max_tokens" not in body  # the server's own limit applies
    assert request.headers["User-Agent"].startswith(f"grounding/{grounding.__version__}")


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        # sampling inside (0, 1): sent as given
        (0.4, {"temperature": 0.4}),
        # 1 or more: the SDK sends 0.99 (the interval is open)
        (1.0, {"temperature": 0.99}),
        # 0 or less: greedy decoding
        (0.0, {"temperature": 0.01, "do_sample": False}),
    ],
)
def test_zai_temperature_rules(temperature: float, expected: dict) -> None:
    from grounding.client import PROVIDERS, request_body
    from grounding.profiles import get_profile

    body = request_body([], model="glm-4.5v", profile=get_profile("glm-4.5v"), provider=PROVIDERS["zai"], thinking=False, max_tokens=None, temperature=temperature, stream=False)
    assert {k: body[k] for k in expected} == expected and ("do_sample" in body) == ("do_sample" in expected)


def test_openai_provider_keeps_data_urls_and_temperature_zero(server, fast_retry) -> None:
    server.script(chat(BOX))
    with make(server, fast_retry, temperature=0) as client:
        client.locate(photo(), "x")
    body = server.chat_requests[0].body
    assert body["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert body["temperature"] == 0 and "do_sample" not in body


def test_cached_tokens_are_kept_in_usage(server, fast_retry) -> None:
    server.script(chat(BOX, request_id="r-1", cached_tokens=1000))
    with make(server, fast_retry) as client:
        response = client.locate(photo(), "x").response
    assert response.usage.cached_tokens == 1000 and response.request_id == "r-1"


def test_sensitive_keeps_the_usage(server, fast_retry) -> None:
    server.script(chat("partial", finish_reason="sensitive", usage=(1500, 7)))
    with make(server, fast_retry) as client, pytest.raises(ContentBlockedError) as info:
        client.locate(photo(), "x")
    assert info.value.usage.prompt_tokens == 1500


@pytest.mark.parametrize(
    ("url", "provider"),
    [
        # Z.AI's host, no --provider: zai (its key variable, its thinking form)
        ("https://api.z.ai/api/paas/v4", "zai"),
        # BigModel's host
        ("https://open.bigmodel.cn/api/paas/v4/", "bigmodel"),
        # any other host: an OpenAI-compatible server
        ("http://localhost:8000/v1", "openai"),
        # a look-alike host is not Z.AI
        ("https://api.z.ai.example.com/v4", "openai"),
    ],
)
def test_provider_is_inferred_from_the_base_url(url: str, provider: str) -> None:
    env = {"ZAI_API_KEY": "k", "ZHIPUAI_API_KEY": "k"}
    assert resolve_settings(base_url=url, env=env).provider.name == provider


def test_configuration_error_speaks_to_library_and_cli_users() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_settings("zai", env={})
    assert "api_key=" in str(info.value) and "--api-key" in str(info.value)


# --- secrets ------------------------------------------------------------------------------


def test_a_key_echoed_by_the_server_is_scrubbed(server, fast_retry, tmp_path) -> None:
    server.script(error(401, "1001", "invalid key sk-test-SECRET for this account"))
    with make(server, fast_retry) as client, pytest.raises(AuthenticationError) as info:
        client.locate(photo(), "x")
    assert "SECRET" not in str(info.value) and "SECRET" not in repr(info.value)
    assert "***" in str(info.value)


def test_credentials_in_the_base_url_never_show(server, fast_retry) -> None:
    url = server.url.replace("http://", "http://me:pa55word@") + "?token=tok3n"
    server.script(chat(BOX))
    with Client("openai", base_url=url, retry=fast_retry) as client:
        client.locate(photo(), "x")
        shown = f"{client!r} {client.settings!r} {client.settings.base_url} {client.settings.endpoint}"
    assert "pa55word" not in shown and "tok3n" not in shown
    assert client.settings.base_url == server.url
    request = server.requests[0]
    assert request.headers["Authorization"].startswith("Basic ")  # sent, as basic auth
    assert request.path.endswith("/chat/completions?token=tok3n")


def test_unreachable_base_url_with_credentials_says_so_without_them(fast_retry) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client("openai", base_url=f"http://u:hunter2@127.0.0.1:{port}/v1", retry=fast_retry) as client, pytest.raises(APIConnectionError) as info:
        client.locate(photo(), "x")
    assert "hunter2" not in str(info.value)


# --- the fixture server, run by hand ------------------------------------------------------


def test_fixture_server_runs_from_any_directory_and_says_one_line_when_its_port_is_taken(tmp_path) -> None:
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "grounding.testing", "--port", str(port)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and f"port {port}" in done.stderr and "Traceback" not in done.stderr
