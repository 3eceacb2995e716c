"""A fixture detector that errs the way models do, for measuring confidence scores.

It is not a model. It "sees" the coloured shapes of the synthetic dataset
(:mod:`grounding.datasets.synthetic`: one shape per quadrant on a flat background) in the
image it receives, and answers in GLM-4.5V's detection form with noise: boxes jittered a
little, sometimes badly (a wrong box), sometimes with the wrong class, sometimes an extra box
where there is nothing, sometimes a shape missed. Each request draws its own noise, so K
samples differ where the errors are and agree where the shapes are. With ``logprobs: true``
in the request it returns OpenAI-style token log-probabilities that are lower on the tokens of
wrong and extra boxes, as a model's would be (on average, not always).

    with ScriptedServer(NoisyDetector(seed=0)) as server: ...
"""

from __future__ import annotations

import base64
import io
import json
import math
import random
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from grounding.datasets.synthetic import COLOURS
from tests.server import Reply

__all__ = ["NoisyDetector", "see_shapes"]

_TOKEN = re.compile(r"\d+|[A-Za-z_]+|\s+|<\|[a-z_]+\|>|.")


def _image(body: dict[str, Any]) -> Image.Image | None:
    for message in body.get("messages", []):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if part.get("type") == "image_url":
                url = part["image_url"]["url"]
                data = url.split(",", 1)[1] if url.startswith("data:") else url
                return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    return None


def see_shapes(image: Image.Image) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(shape name, normalized 0-1 xyxy) of each coloured shape, one per quadrant."""
    pixels = np.asarray(image, dtype=np.int32)
    height, width = pixels.shape[:2]
    found = []
    for qy in range(2):
        for qx in range(2):
            y0, x0 = qy * (height // 2), qx * (width // 2)
            cell = pixels[y0 : y0 + height // 2, x0 : x0 + width // 2]
            for rgb in COLOURS.values():
                mask = (np.abs(cell - np.array(rgb)).sum(axis=2)) < 90
                if mask.sum() < 20:
                    continue
                ys, xs = np.nonzero(mask)
                x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
                fill = mask.sum() / ((x2 - x1) * (y2 - y1))
                shape = "square" if fill > 0.9 else "circle" if fill > 0.65 else "triangle"
                box = ((x0 + x1) / width, (y0 + y1) / height, (x0 + x2) / width, (y0 + y2) / height)
                found.append((shape, box))
    return found


@dataclass
class NoisyDetector:
    """The server's default answer: ``ScriptedServer(NoisyDetector())``.

    Rates are per shape and per answer; ``jitter`` is the usual error as a fraction of the
    shape's size, and a "wrong" box is off by ``wrong_shift`` of its size.
    """

    seed: int = 0
    jitter: float = 0.02
    p_wrong: float = 0.12
    p_swap: float = 0.08
    p_miss: float = 0.08
    p_extra: float = 0.35
    wrong_shift: float = 0.6

    def __post_init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self._count += 1
            count = self._count
        rng = random.Random(f"{self.seed}/{body.get('seed', count)}/{count}")
        image = _image(body)
        shapes = see_shapes(image) if image is not None else []
        names = ("circle", "square", "triangle")
        pieces: list[tuple[str, bool]] = [("<|begin_of_box|>[", True)]
        written = 0
        for shape, (x1, y1, x2, y2) in shapes:
            if rng.random() < self.p_miss:
                continue
            good = True
            w, h = x2 - x1, y2 - y1
            shift = self.jitter
            if rng.random() < self.p_wrong:
                shift, good = self.wrong_shift, False
            box = [
                x1 + rng.gauss(0, shift) * w,
                y1 + rng.gauss(0, shift) * h,
                x2 + rng.gauss(0, shift) * w,
                y2 + rng.gauss(0, shift) * h,
            ]
            if rng.random() < self.p_swap:
                shape, good = rng.choice([n for n in names if n != shape]), False
            pieces.append((self._item(shape, box, written), good))
            written += 1
        if rng.random() < self.p_extra:
            x, y, side = rng.uniform(0, 0.8), rng.uniform(0, 0.8), rng.uniform(0.05, 0.2)
            pieces.append(
                (self._item(rng.choice(names), [x, y, x + side, y + side], written), False)
            )
        pieces.append(("]<|end_of_box|>", True))
        content = "".join(text for text, _ in pieces)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": "stop"}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": self._logprobs(pieces, rng)}
        reply = {
            "id": "fixture-noisy",
            "object": "chat.completion",
            "model": body.get("model", "glm-4.5v"),
            "choices": [choice],
            "usage": {
                "prompt_tokens": 900,
                "completion_tokens": 20 * (written + 1),
                "total_tokens": 900 + 20 * (written + 1),
            },
        }
        return Reply(body=reply)

    @staticmethod
    def _item(shape: str, box: list[float], index: int) -> str:
        coords = [min(999, max(0, round(v * 1000))) for v in box]
        lead = ", " if index else ""
        return f'{lead}{{"label": "{shape}", "bbox_2d": {json.dumps(coords)}}}'

    @staticmethod
    def _logprobs(pieces: list[tuple[str, bool]], rng: random.Random) -> list[dict[str, Any]]:
        tokens = []
        for text, good in pieces:
            centre, spread = (-0.05, 0.04) if good else (-1.0, 0.5)
            for token in _TOKEN.findall(text):
                logprob = min(0.0, rng.gauss(centre, spread)) if token.strip() else -0.001
                tokens.append(
                    {
                        "token": token,
                        "logprob": logprob,
                        "bytes": list(token.encode()),
                        "top_logprobs": [],
                    }
                )
        assert math.isfinite(sum(t["logprob"] for t in tokens))
        return tokens
