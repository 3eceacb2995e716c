"""Token grammars: the model families whose answers carry their own markup.

Each reader takes the answer text and returns shapes in reading order. Readers whose grammar
fixes the coordinate convention (PaliGemma, Florence-2, Kosmos-2, Molmo, DeepSeek-VL2) attach
that :class:`~grounding.coords.Frame`; the others leave it to the model profile.

>>> [(s.label, s.values) for s in ref_box_shapes("<ref>book</ref><box>120 340 560 780</box>", [])]
[('book', (120.0, 340.0, 560.0, 780.0))]
"""

from __future__ import annotations

import re
from collections.abc import Callable

from grounding.coords import UNIT, Frame, florence_frame, kosmos_patch_box
from grounding.parsing.groups import NUMBER, loose_groups, numbers_in
from grounding.parsing.shapes import MAX_SHAPES, Shape, box_run_shapes, shapes_from_numbers

__all__ = ["TOKEN_READERS", "token_shapes"]


# --- <ref>label</ref><box>…</box> and its relatives -------------------------------------------

_RefBox = tuple[str, str, str, str, "Frame | None"]
_REF_BOX_GRAMMARS: tuple[_RefBox, ...] = (
    ("<ref>", "</ref>", "<box>", "</box>", None),  # Qwen-VL, InternVL, MiniCPM-V
    ("<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", None),  # Qwen2
    ("<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", Frame(999.0, 999.0)),  # DeepSeek-VL2
)
_REF_BOX_RES = [re.compile("|".join(re.escape(t) for t in g[:4])) for g in _REF_BOX_GRAMMARS]


def _box_content(
    content: str, label: str | None, frame: Frame | None, warnings: list[str]
) -> list[Shape]:
    shapes = loose_groups(content, warnings, label, pairs_are_corners=True)
    if not shapes and "[" not in content and "(" not in content:
        numbers = numbers_in(content)  # MiniCPM: 1 2 3 4
        shapes = (
            box_run_shapes(numbers, label, warnings)
            if len(numbers) % 4 == 0
            else shapes_from_numbers(numbers, label, warnings)
        )
    if frame is not None:
        shapes = [s._replace(frame=frame) for s in shapes]
    return shapes


def ref_box_shapes(text: str, warnings: list[str]) -> list[Shape]:
    """``<ref>label</ref><box>…</box>``, Qwen2-VL's and DeepSeek-VL2's special-token forms.

    A label applies to every box after it until the next one. A box span interrupted by
    another token (DeepSeek-VL2 sometimes breaks off mid-list) is dropped with a warning.
    """
    shapes: list[Shape] = []
    for (ref_open, ref_close, box_open, box_close, frame), pattern in zip(
        _REF_BOX_GRAMMARS, _REF_BOX_RES, strict=True
    ):
        if box_open not in text:
            continue
        label: str | None = None
        ref_at: int | None = None
        box_at: int | None = None
        broken = 0
        for match in pattern.finditer(text):
            token = match.group()
            if box_at is not None and token != box_close:
                broken += 1
                box_at = None
            if token == ref_open:
                ref_at = match.end()
            elif token == ref_close and ref_at is not None:
                label = text[ref_at : match.start()].strip() or None
                ref_at = None
            elif token == box_open:
                box_at = match.end()
            elif token == box_close and box_at is not None:
                shapes.extend(_box_content(text[box_at : match.start()], label, frame, warnings))
                box_at = None
                if len(shapes) >= MAX_SHAPES:
                    break
        if broken:
            warnings.append(
                f"dropped {broken} unfinished {box_open} span(s) cut off by the next token"
            )
        if box_at is not None:
            warnings.append(f"read an unterminated {box_open} span to the end of the text")
            shapes.extend(_box_content(text[box_at:], label, frame, warnings))
    return shapes


# --- PaliGemma: <loc0256><loc0256><loc0768><loc0768>[<segNNN>×16] label ; … ---------------

_PALIGEMMA = re.compile(r"<loc(\d{4})><loc(\d{4})><loc(\d{4})><loc(\d{4})>(?:<seg\d{3}>)*([^;<]*)")
_PALIGEMMA_FRAME = Frame(1024.0, 1024.0, yx=True)


def paligemma_shapes(text: str, warnings: list[str]) -> list[Shape]:
    """PaliGemma 1/2 detections: y-first on a 1024 grid, the label after the tokens.

    As in the reference parsers (big_vision, supervision), a label ends at ``;`` or at the
    next token: a stray ``<loc>`` or a separator never becomes part of it.
    """
    shapes: list[Shape] = []
    for match in _PALIGEMMA.finditer(text):
        if len(shapes) >= MAX_SHAPES:
            break
        label = match.group(5).strip()
        values = tuple(float(v) for v in match.groups()[:4])
        shapes.append(Shape("box", values, label or None, _PALIGEMMA_FRAME))
    return shapes


# --- Florence-2: label<loc_52><loc_333><loc_932><loc_774> … -------------------------------

_FLORENCE_RUN = re.compile(r"(?:<loc_\d{1,4}>)+")
_FLORENCE_NOISE = re.compile(r"</?s>|<pad>|</?ground>|</?obj>")  # dropped, as the reference does
_FLORENCE_TOKEN = re.compile(r"<[^<>]{0,40}>")  # any other token ends a label
_FLORENCE_POLYGON_TOKENS = ("<sep>", "<poly>", "</poly>")


def _without_polygon_tokens(gap: str) -> str:
    """``gap`` without the ``<sep>``/``<poly>`` tokens at its end (a loop, no regex: linear)."""
    end = len(gap)
    while True:
        while end and gap[end - 1].isspace():
            end -= 1
        token = next((t for t in _FLORENCE_POLYGON_TOKENS if gap.endswith(t, 0, end)), None)
        if token is None:
            return gap[:end]
        end -= len(token)


def florence_shapes(text: str, warnings: list[str]) -> list[Shape]:
    """Florence-2: the label comes first, then a run of ``<loc_N>`` bins.

    A run of 4k bins is k boxes (detection, region proposals, dense captions and phrase
    grounding put several boxes after one phrase), 8 bins that are not two boxes an OCR
    quadrilateral, 2k a polygon (see :func:`box_run_shapes`). The label is the text right
    before the run with tokens such as ``</s>``, ``<pad>`` or ``<ground>`` left out; runs
    split by ``<sep>``/``<poly>`` are further polygons of the same label.
    """
    shapes: list[Shape] = []
    last = 0
    label: str | None = None
    frame = florence_frame()
    for match in _FLORENCE_RUN.finditer(text):
        if len(shapes) >= MAX_SHAPES:
            break
        gap = _without_polygon_tokens(text[last : match.start()])
        if gap or last == 0:  # else only <sep>/<poly> since the last run: same label
            label = _FLORENCE_TOKEN.split(_FLORENCE_NOISE.sub("", gap))[-1].strip() or None
        last = match.end()
        if (tokens := match.group().count("<")) > 4 * MAX_SHAPES:  # a repetition loop
            warnings.append(
                f"dropped a run of {tokens} <loc_N> tokens (more than {4 * MAX_SHAPES})"
            )
            continue
        shapes.extend(box_run_shapes(numbers_in(match.group()), label, warnings, frame))
    return shapes


# --- Kosmos-2: <phrase>…</phrase><object><patch_index_0044><patch_index_0863></object> ------

_KOSMOS = re.compile(
    r"(?:<phrase>([^<]*)</phrase>\s*)?<object>((?:\s|<patch_index_\d+>|</delimiter_of_multi_objects/>)*)</object>"
)
_PATCH = re.compile(r"<patch_index_(\d+)>")
_PATCHES = 32 * 32


def kosmos_shapes(text: str, warnings: list[str]) -> list[Shape]:
    """Kosmos-2 patch-index pairs on the 32×32 grid; several boxes per phrase allowed."""
    shapes: list[Shape] = []
    outside = 0
    for match in _KOSMOS.finditer(text):
        if len(shapes) >= MAX_SHAPES:
            break
        label = (match.group(1) or "").strip() or None
        # an index is 0-1023: longer digit runs are never converted (int() refuses 4,300+)
        indices = [int(i) if len(i) <= 4 else -1 for i in _PATCH.findall(match.group(2))]
        if len(indices) % 2:
            warnings.append(f"dropped an odd Kosmos-2 patch index in {label or 'an object'}")
        for i in range(0, len(indices) - 1, 2):
            upper_left, lower_right = indices[i], indices[i + 1]
            if not (0 <= upper_left < _PATCHES and 0 <= lower_right < _PATCHES):
                outside += 1
                continue
            shapes.append(Shape("box", kosmos_patch_box(upper_left, lower_right), label, UNIT))
    if outside:
        warnings.append(f"dropped {outside} Kosmos-2 box(es) with a patch index outside 0-1023")
    return shapes


# --- Molmo: <point x="63.5" y="44.5" alt="…">…</point>, <points x1=… y1=…>, Click(x, y) -----

_MOLMO = re.compile(r"<(points?)\b([^<>]{0,4000})>([^<]{0,400})")
_ATTRIBUTE = re.compile(r"([A-Za-z_]\w*)\s*=\s*\"([^\"]*)\"")
_MOLMO_FRAME = Frame(100.0, 100.0)
_CLICK = re.compile(rf"\b[Cc]lick\(\s*({NUMBER.pattern})\s*,\s*({NUMBER.pattern})\s*\)")


def molmo_shapes(text: str, warnings: list[str]) -> list[Shape]:
    """Molmo's point tags, in percent of the image."""
    shapes: list[Shape] = []
    for match in _MOLMO.finditer(text):
        if len(shapes) >= MAX_SHAPES:
            break
        attributes = dict(_ATTRIBUTE.findall(match.group(2)))
        label = (attributes.get("alt") or match.group(3)).strip() or None
        if "x" in attributes and "y" in attributes:
            keys = [("x", "y")]
        else:
            n = 1
            keys = []
            while f"x{n}" in attributes and f"y{n}" in attributes:
                keys.append((f"x{n}", f"y{n}"))
                n += 1
        for kx, ky in keys:
            x, y = numbers_in(attributes[kx]), numbers_in(attributes[ky])
            if len(x) == 1 and len(y) == 1:
                shapes.append(Shape("point", (x[0], y[0]), label, _MOLMO_FRAME))
    return shapes


def click_shapes(text: str, warnings: list[str]) -> list[Shape]:
    """``Click(x, y)`` actions (Molmo and others), in the profile's convention."""
    shapes: list[Shape] = []
    for match in _CLICK.finditer(text):
        if len(shapes) >= MAX_SHAPES:
            break
        shapes.append(Shape("point", (float(match.group(1)), float(match.group(2)))))
    return shapes


# --- GLM GUI agent: left_click(start_box='[586, 446]', element_info='OK button') -------------

_GUI = re.compile(
    r"(?P<call>\b[A-Za-z_]\w*\()"
    r"|\b(?P<key>start_box|end_box|element_info)\s*=\s*(?:'(?P<sq>[^']{0,1000})'|\"(?P<dq>[^\"]{0,1000})\")"
)


def gui_action_shapes(text: str, warnings: list[str]) -> list[Shape]:
    """GLM desktop actions: ``start_box``/``end_box`` are points (or boxes) despite the name."""
    actions: list[dict[str, str]] = []
    for match in _GUI.finditer(text):
        if match.group("call"):
            actions.append({})
        elif actions:
            actions[-1][match.group("key")] = match.group("sq") or match.group("dq") or ""
    shapes: list[Shape] = []
    for action in actions[:MAX_SHAPES]:
        label = action.get("element_info", "").strip() or None
        for key, key_label in (("start_box", label), ("end_box", None)):
            if key in action:
                shapes.extend(shapes_from_numbers(numbers_in(action[key]), key_label, warnings))
    return shapes


Reader = Callable[[str, list[str]], list[Shape]]

# (trigger substring, reader): a reader runs only when its trigger is in the text.
TOKEN_READERS: tuple[tuple[str, Reader], ...] = (
    ("<loc", paligemma_shapes),  # <locNNNN>
    ("<loc_", florence_shapes),
    ("<object>", kosmos_shapes),
    ("<point", molmo_shapes),
    ("start_box", gui_action_shapes),
    ("end_box", gui_action_shapes),
    ("lick(", click_shapes),
    ("<box>", ref_box_shapes),
    ("<|box_start|>", ref_box_shapes),
    ("<|det|>", ref_box_shapes),
)


def token_shapes(text: str, warnings: list[str]) -> list[Shape]:
    """Shapes from every token grammar present in ``text`` (empty when none is)."""
    shapes: list[Shape] = []
    done: set[Reader] = set()
    for trigger, reader in TOKEN_READERS:
        if reader not in done and trigger in text:
            done.add(reader)
            shapes.extend(reader(text, warnings))
    if len(shapes) >= MAX_SHAPES:
        warnings.append(f"stopped reading after {MAX_SHAPES} shapes")
        del shapes[MAX_SHAPES:]
    return shapes
