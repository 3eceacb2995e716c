"""Conformance: every reply shape Z.AI, BigModel, vLLM, SGLang and OpenAI-style servers send.

One table, served by the scripted loopback server (fixture replies, not model output). Each
row says what the client must make of it: the boxes, or the exception class; how many
requests it took (1 + retries); and whether the cache holds an answer afterwards (only
complete, successful answers may be stored). The same table drives ``grounding locate``:
right boxes with exit 0, or a non-zero exit with one line, and never a wrong answer cached.
"""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from grounding import (
    AccountError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    Client,
    ContentBlockedError,
    QuotaExceededError,
    RateLimitError,
    ReplyTooLargeError,
    ResponseCache,
    ServerError,
)
from grounding.client import RetryPolicy
from tests.conftest import assert_close, photo
from tests.server import (
    Reply,
    chat,
    endless,
    error,
    gzip_bomb,
    openai_error,
    sse,
    trickle,
    vllm_error,
)

BOX = "<|begin_of_box|>[[100,200,300,400]]<|end_of_box|>"
PIXELS = [[64.0, 96.0, 192.0, 192.0]]  # BOX on a 640x480 image
EMPTY: list = []
CUT: list = []  # cut off at max_tokens before any box: no boxes (the CLI exits 1, not 0)
DRAFTS = "Let me look. Maybe [[5,5,60,60]]? Or [[7,7,70,70]]."
STREAM = {"stream": True}
MB = {"max_reply_bytes": 1 << 20}
GOOD = chat(BOX)  # the server's default after the script: a wrong retry would "succeed"

CASES = [
    # Z.AI non-stream: reasoning_content, request_id, cached tokens
    ([chat(BOX, reasoning=DRAFTS, request_id="20250801-abc", cached_tokens=1000)], {}, PIXELS, 1, True),
    # Z.AI SSE: reasoning_content deltas, request_id, usage with cached tokens in the last chunk
    ([sse(["The box is ", BOX], reasoning=[DRAFTS], request_id="20250801-abc", cached_tokens=1000)], STREAM, PIXELS, 1, True),
    # vLLM (older) with reasoning_content
    ([chat(BOX, reasoning=DRAFTS, model="zai-org/GLM-4.5V")], {}, PIXELS, 1, True),
    # vLLM (newer) with reasoning
    ([chat(BOX, reasoning=DRAFTS, reasoning_key="reasoning")], {}, PIXELS, 1, True),
    # vLLM stream with reasoning deltas
    ([sse([BOX], reasoning=[DRAFTS], reasoning_key="reasoning")], STREAM, PIXELS, 1, True),
    # SGLang: content empty, everything in reasoning_content: only the final answer counts
    ([chat("", reasoning=f"<think>{DRAFTS}</think>{BOX}")], {}, PIXELS, 1, True),
    # reasoning only, final answer in the markers after the drafts
    ([chat(None, reasoning=f"{DRAFTS} So: {BOX}")], {}, PIXELS, 1, True),
    # content as a list of parts: only the text parts count (not str() of the list)
    ([chat([{"type": "thinking", "thinking": DRAFTS}, {"type": "text", "text": "The box is "}, {"type": "text", "text": BOX}])], {}, PIXELS, 1, True),
    # content null and reasoning with drafts only: nothing, never a draft box
    ([chat(None, reasoning=DRAFTS)], {}, EMPTY, 1, True),
    # length with the answer in the content: kept (with a warning), not cached
    ([chat(BOX, finish_reason="length")], {}, PIXELS, 1, False),
    # length with thinking and empty content: the reasoning's drafts are never the answer
    ([chat("", reasoning=DRAFTS + " " + BOX, finish_reason="length")], {}, CUT, 1, False),
    # length inside a stream, content empty
    ([sse([], reasoning=[DRAFTS], finish_reason="length")], STREAM, CUT, 1, False),
    # sensitive: blocked, not retried
    ([chat("partial", finish_reason="sensitive")], {}, ContentBlockedError, 1, False),
    # sensitive at the end of a stream
    ([sse(["partial"], finish_reason="sensitive")], STREAM, ContentBlockedError, 1, False),
    # OpenAI content_filter
    ([chat("", finish_reason="content_filter")], {}, ContentBlockedError, 1, False),
    # BigModel network_error (model inference failed): transient, retried
    ([chat("", finish_reason="network_error")], {}, PIXELS, 2, True),
    # network_error every time: retries used up
    ([chat("", finish_reason="network_error")] * 5, {}, ServerError, 5, False),
    # context window overflow as a finish_reason: a bad request
    ([chat("", finish_reason="model_context_window_exceeded")], {}, BadRequestError, 1, False),
    # an unknown finish_reason (vLLM abort) is not an answer: retried
    ([chat("[[1,1,2,2]]", finish_reason="abort")], {}, PIXELS, 2, True),
    # finish_reason null in a whole JSON body: the body is complete
    ([chat(BOX, finish_reason=None)], {}, PIXELS, 1, True),
    # a stream cut before [DONE] and any finish_reason: transient, retried
    ([sse(["[[1,1,", "2,2]]"], finish_reason=None, done=False)], STREAM, PIXELS, 2, True),
    # cut every time
    ([sse(["[[1,1,"], finish_reason=None, done=False)] * 5, STREAM, ServerError, 5, False),
    # a stream with a finish_reason but no [DONE]: complete
    ([sse([BOX], done=False)], STREAM, PIXELS, 1, True),
    # a stream with [DONE] but no finish_reason: complete
    ([sse([BOX], finish_reason=None)], STREAM, PIXELS, 1, True),
    # a rate-limit error in the middle of a stream: retried
    ([sse(["The box", " is"], error_after=1, code="1305")], STREAM, PIXELS, 2, True),
    # arrears in the middle of a stream: fatal
    ([sse(["a", "b"], error_after=1, code="1113")], STREAM, AccountError, 1, False),
    # HTTP 200 with an error object (1302) on a plain request: retried
    ([Reply(body={"error": {"code": "1302", "message": "busy"}})], {}, PIXELS, 2, True),
    # HTTP 200 with an error object on a stream request: classified, not "nothing located"
    ([Reply(body={"error": {"code": "1302", "message": "busy"}})], STREAM, PIXELS, 2, True),
    # HTTP 200 with arrears on a stream request: fatal
    ([Reply(body={"error": {"code": "1113", "message": "arrears"}})], STREAM, AccountError, 1, False),
    # a plain JSON answer to a stream request: read as JSON
    ([chat(BOX)], STREAM, PIXELS, 1, True),
    # an SSE answer to a plain request: read as SSE
    ([sse([BOX])], {}, PIXELS, 1, True),
    # an SSE stream with HTTP 429 and an error event
    ([sse([], error_after=0, code="1302", status=429)], STREAM, PIXELS, 2, True),
    # OpenAI: insufficient_quota is a used-up quota, not a rate limit: fails fast
    ([openai_error(429, "insufficient_quota", "insufficient_quota", "You exceeded your current quota")], {}, QuotaExceededError, 1, False),
    # OpenAI: rate_limit_exceeded is retried
    ([openai_error(429, "rate_limit_exceeded", "requests", "Rate limit reached")], {}, PIXELS, 2, True),
    # OpenAI: context_length_exceeded is a bad request
    ([openai_error(400, "context_length_exceeded", "invalid_request_error", "maximum context length")], {}, BadRequestError, 1, False),
    # OpenAI: a wrong key
    ([openai_error(401, "invalid_api_key", "invalid_request_error", "Incorrect API key provided")], {}, AuthenticationError, 1, False),
    # vLLM: too many images, HTTP 400
    ([vllm_error(400, "At most 1 image(s) may be provided in one request.")], {}, BadRequestError, 1, False),
    # vLLM: engine error with code 500 inside an HTTP 200 body
    ([Reply(body={"object": "error", "message": "EngineCore died", "type": "InternalServerError", "code": 500})], {}, PIXELS, 2, True),
    # Z.AI business codes: arrears inside an HTTP 429 is fatal
    ([error(429, "1113", "Insufficient balance")], {}, AccountError, 1, False),
    # Z.AI: concurrency over the limit, retried
    ([error(429, "1302", "High concurrency")], {}, PIXELS, 2, True),
    # Z.AI: overloaded, retried
    ([error(429, "1305", "overloaded")], {}, PIXELS, 2, True),
    # Z.AI: daily quota
    ([error(429, "1308", "Usage limit reached")], {}, QuotaExceededError, 1, False),
    # Z.AI: prompt too long
    ([error(400, "1261", "Prompt exceeds max length")], {}, BadRequestError, 1, False),
    # Z.AI: unsafe input
    ([error(400, "1301", "unsafe content")], {}, ContentBlockedError, 1, False),
    # Z.AI: internal error inside an HTTP 200, retried
    ([error(200, "1234", "network error")], {}, PIXELS, 2, True),
    # a proxy's HTML page with HTTP 200: not an answer, retried
    ([Reply(body="<html>gateway</html>", headers={"Content-Type": "text/html"})], {}, PIXELS, 2, True),
    # JSON without choices: retried
    ([Reply(body={"object": "chat.completion"})], {}, PIXELS, 2, True),
    # non-finite usage numbers are read as missing, the answer stands
    ([chat(BOX, raw_usage={"prompt_tokens": math.inf, "completion_tokens": math.nan, "total_tokens": "x"})], {}, PIXELS, 1, True),
    # an endless body: abandoned at max_reply_bytes, not retried
    ([endless()], MB, ReplyTooLargeError, 1, False),
    # an endless SSE stream
    ([endless(sse_events=True)], {**MB, **STREAM}, ReplyTooLargeError, 1, False),
    # a gzip bomb (50 MB inflated)
    ([gzip_bomb(50 << 20)], MB, ReplyTooLargeError, 1, False),
    # a trickle of one byte every 0.25 s: stopped at the total deadline
    ([trickle(json.dumps(GOOD.body).encode(), 0.25)], {"timeout": 1.5}, APITimeoutError, 1, False),
    # Retry-After: 86400 with a 2 s deadline: gives up at once instead of waiting
    ([error(429, "1302", "busy", retry_after="86400")], {"timeout": 2.0}, RateLimitError, 1, False),
    # a hung endpoint: one deadline, not one timeout per retry
    ([chat(BOX, delay=5.0)], {"timeout": 1.5}, APITimeoutError, 1, False),
    # an endless error body (HTTP 500): classified from its first 64 KB, retried
    ([Reply(status=500, endless=b"internal error " * 4096)], {}, PIXELS, 2, True),
    # an SSE answer labelled application/json: the body decides
    ([Reply(stream=sse([BOX]).stream, headers={"Content-Type": "application/json"})], STREAM, PIXELS, 1, True),
]


def _ids() -> list[str]:
    return [f"row{i:02d}" for i in range(len(CASES))]


@pytest.mark.parametrize(("script", "options", "expect", "requests", "cached"), CASES, ids=_ids())
def test_reply_shapes(server, fast_retry, tmp_path, script, options, expect, requests, cached) -> None:
    server.default = GOOD
    server.script(*script)
    cache = ResponseCache(tmp_path / "c.sqlite")
    kwargs = {"timeout": 10.0, **options}
    with Client("openai", base_url=server.url, retry=fast_retry, cache=cache, **kwargs) as client:
        if isinstance(expect, type):
            with pytest.raises(expect):
                client.locate(photo(), "the car")
        else:
            result = client.locate(photo(), "the car")
            assert_close(result.boxes, expect, 4)
            assert result.response.attempts == requests
    assert len(server.chat_requests) == requests
    assert cache.info()["entries"] == (1 if cached else 0)


@pytest.mark.parametrize(("script", "options", "expect", "requests", "cached"), CASES, ids=_ids())
def test_locate_command_on_each_reply(server, fast_retry, tmp_path, monkeypatch, script, options, expect, requests, cached) -> None:
    from grounding.cli import app

    monkeypatch.setattr("grounding.client._base.RetryPolicy", lambda: fast_retry)
    monkeypatch.setattr("grounding.client._base.DEFAULT_MAX_REPLY_BYTES", 1 << 20)  # as MB rows
    server.default = GOOD
    server.script(*script)
    image = tmp_path / "photo.png"
    photo().save(image)
    args = ["locate", str(image), "the car", "--base-url", server.url, "--json"]
    args += ["--timeout", str(options.get("timeout", 10.0))]
    if options.get("stream"):
        args.append("--stream")
    outcome = CliRunner().invoke(app, args)
    if isinstance(expect, type) or expect is CUT:
        assert outcome.exit_code != 0
        lines = [line for line in outcome.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), outcome.stderr
    else:
        assert outcome.exit_code == 0, outcome.stderr
        boxes = [b["xyxy"] for b in json.loads(outcome.stdout)["boxes"]]
        assert_close(boxes, expect, 4)
    entries = ResponseCache().info()["entries"]  # the CLI's default cache (the test's tmp dir)
    assert entries == (1 if cached else 0)


def test_locate_command_fails_when_the_answer_was_cut_before_any_box(server, tmp_path) -> None:
    """Exit 0 with "nothing located" would be a wrong answer in silence."""
    from grounding.cli import app

    server.script(chat("", reasoning=DRAFTS, finish_reason="length"))
    image = tmp_path / "photo.png"
    photo().save(image)
    outcome = CliRunner().invoke(app, ["locate", str(image), "the car", "--base-url", server.url])
    assert outcome.exit_code == 1
    assert "cut off" in outcome.stderr and "nothing located" not in outcome.stdout


def test_retry_policy_fixture_is_fast(fast_retry) -> None:
    assert isinstance(fast_retry, RetryPolicy) and fast_retry.base_delay < 0.1


# the async twin runs the same plan over other I/O: the rows where reading differs
ASYNC_ROWS = [1, 15, 20, 27, 29, 30, 48, 49, 50, 51, 52, 53]


@pytest.mark.parametrize("row", ASYNC_ROWS, ids=[f"row{i:02d}" for i in ASYNC_ROWS])
def test_reply_shapes_async(server, fast_retry, tmp_path, row: int) -> None:
    import asyncio

    from grounding import AsyncClient

    script, options, expect, requests, cached = CASES[row]
    server.default = GOOD
    server.script(*script)
    cache = ResponseCache(tmp_path / "c.sqlite")
    kwargs = {"timeout": 10.0, **options}

    async def run():
        async with AsyncClient("openai", base_url=server.url, retry=fast_retry, cache=cache, **kwargs) as client:
            return await client.locate(photo(), "the car")

    if isinstance(expect, type):
        with pytest.raises(expect):
            asyncio.run(run())
    else:
        assert_close(asyncio.run(run()).boxes, expect, 4)
    assert len(server.chat_requests) == requests
    assert cache.info()["entries"] == (1 if cached else 0)


def test_locate_table_says_when_the_answer_came_from_the_cache(server, tmp_path) -> None:
    from grounding.cli import app

    server.default = GOOD
    image = tmp_path / "photo.png"
    photo().save(image)
    args = ["locate", str(image), "the car", "--base-url", server.url]
    first, again = CliRunner().invoke(app, args), CliRunner().invoke(app, args)
    assert "response cache" not in first.stdout and "response cache" in again.stdout
    assert "[dim]" not in again.stdout  # printed as text, not as markup
    assert len(server.chat_requests) == 1
