"""Prompt builder: each task in the model family's own phrasing, as OpenAI-format messages.

The image part comes first, then the text (the order GLM's examples use). Thinking on/off is
a request option the client applies; only a profile whose one switch is a prompt suffix
(``Thinking.PROMPT``) gets it here.

>>> msgs = locate("the red car", model="glm-4.5v", image_url="data:image/jpeg;base64,...")
>>> msgs[0]["content"][1]["text"]
'Help me to locate the red car in the image and give me its bounding boxes.'
>>> prompt_text("detect", ["cat", "dog"], model="paligemma")
'detect cat ; dog\\n'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from grounding.profiles import Profile, Thinking, get_profile

__all__ = [
    "IMAGE_PLACEHOLDER",
    "TASKS",
    "Task",
    "detect",
    "gui_element",
    "locate",
    "messages",
    "point",
    "prompt_text",
]

Task = Literal["locate", "detect", "point", "gui"]
TASKS: tuple[Task, ...] = ("locate", "detect", "point", "gui")
IMAGE_PLACEHOLDER = "IMAGE_URL"

_GLM_JSON = (
    'Output valid JSON only: a list of objects with the keys "label" and "bbox_2d", for '
    'example [{{"label": "{first}", "bbox_2d": [x1, y1, x2, y2]}}]; output [] if there is '
    "none. Ensure the output coordinates are relative values normalized to 0-1000 based on "
    "image size."
)
_GEMINI_JSON = (
    'Output a JSON list where each entry contains the 2D bounding box in "box_2d" '
    '([ymin, xmin, ymax, xmax] normalized to 0-1000) and {what} in "label".'
)
_GENERIC_JSON = (
    'Output JSON only: a list of objects with the keys "label" and "bbox_2d" '
    "([x1, y1, x2, y2], {scale})."
)

# style -> task -> template. {expr}: the expression or instruction; {classes}: the category
# list as the family writes it; {first}: the first category; {scale}: the profile's scale.
_PHRASINGS: dict[str, dict[str, str]] = {
    "glm": {
        "locate": "Help me to locate {expr} in the image and give me its bounding boxes.",
        "detect": "Locate every instance of these categories in the image: {classes}. " + _GLM_JSON,
        "point": "Point to {expr} in the image. Give its point as [[x, y]], with coordinates "
        "normalized to 0-1000.",
        "gui": "Find the UI element for this instruction: {expr}. Answer with the action "
        "left_click(start_box='[x,y]', element_info='<the element>'), with coordinates "
        "normalized to 0-999.",
    },
    "qwen": {
        "locate": "Locate {expr} in this image and output the bbox coordinates in JSON format.",
        "detect": 'Locate every instance that belongs to the following categories: "{classes}". '
        "Report bbox coordinates in JSON format.",
        "point": "Point to {expr} in this image and output the point coordinates in JSON format.",
        "gui": "Locate the UI element for this instruction: {expr}. Output its point "
        "coordinates in JSON format.",
    },
    "qwen-vl": {
        "locate": "<ref>{expr}</ref>",
        "detect": "Output the bounding box of every <ref>{classes}</ref>",
    },
    "qwen2-vl": {
        "locate": "Find the bounding box of <|object_ref_start|>{expr}<|object_ref_end|>",
        "detect": "Find the bounding box of every <|object_ref_start|>{classes}<|object_ref_end|>",
    },
    "internvl": {
        "locate": "Please provide the bounding box coordinate of the region this sentence "
        "describes: <ref>{expr}</ref>",
        "detect": "Please detect every instance of {classes} in the image and give each as "
        "<ref>name</ref><box>[[x1, y1, x2, y2]]</box>.",
    },
    "cogvlm": {
        "locate": "Where is {expr}? Answer in [[x0,y0,x1,y1]] format.",
        "detect": "Can you point out every {classes} in the image and provide the coordinates "
        "[[x0,y0,x1,y1]] of their locations?",
    },
    "deepseek": {
        "locate": "<|ref|>{expr}<|/ref|>.",
        "detect": "<|grounding|>Locate every <|ref|>{classes}<|/ref|> in the image.",
    },
    "paligemma": {"locate": "detect {expr}\n", "detect": "detect {classes}\n"},
    "florence": {
        "locate": "<CAPTION_TO_PHRASE_GROUNDING>{expr}",
        "detect": "<OPEN_VOCABULARY_DETECTION>{classes}",
    },
    "kosmos": {
        "locate": "<grounding><phrase> {expr}</phrase>",
        "detect": "<grounding><phrase> {classes}</phrase>",
    },
    "molmo": {
        "locate": "Point to {expr}.",
        "detect": "Point to every {classes} in the image.",
        "point": "Point to {expr}.",
        "gui": "Click on the element for this instruction: {expr}.",
    },
    "gemini": {
        "locate": "Detect {expr} in the image. " + _GEMINI_JSON.format(what="a text label"),
        "detect": "Detect every instance of {classes} in the image. "
        + _GEMINI_JSON.format(what="the category name"),
        "point": 'Point to {expr} in the image. Answer in JSON: [{{"point": [y, x], '
        '"label": "<label>"}}], with the points in [y, x] order normalized to 0-1000.',
        "gui": "Point to the UI element for this instruction: {expr}. Answer in JSON: "
        '[{{"point": [y, x], "label": "<the element>"}}], normalized to 0-1000.',
    },
    "generic": {
        "locate": "Locate {expr} in the image. " + _GENERIC_JSON,
        "detect": "Locate every instance of these categories in the image: {classes}. "
        + _GENERIC_JSON,
        "point": 'Point to {expr} in the image. Output JSON only: [{{"point_2d": [x, y], '
        '"label": "<label>"}}] ({scale}).',
        "gui": "Point to the UI element for this instruction: {expr}. Output JSON only: "
        '[{{"point_2d": [x, y], "label": "<the element>"}}] ({scale}).',
    },
}
_CLASS_SEPARATORS = {"paligemma": " ; ", "florence": ", ", "qwen": ", "}


def _scale_words(profile: Profile) -> str:
    if profile.scale == 1.0:
        return "fractions of the image width and height, between 0 and 1"
    if profile.scale == 100.0:
        return "percentages of the image width and height"
    return f"normalized to 0-{profile.scale:g}"


def prompt_text(
    task: Task,
    subject: str | Sequence[str],
    *,
    model: str | Profile = "glm-4.5v",
    thinking: bool | None = None,
) -> str:
    """The prompt text alone, for ``task`` on ``subject`` (an expression or a class list).

    A family without its own phrasing for a task borrows its ``locate`` phrasing.
    """
    profile = get_profile(model)
    style = _PHRASINGS.get(profile.prompt_style, _PHRASINGS["glm"])
    template = style.get(task) or style["locate"]
    raw = [subject] if isinstance(subject, str) else [str(s) for s in subject]
    names = [n.strip() for n in raw if n.strip()]
    if not names:
        raise ValueError(f"the {task} prompt needs a non-empty subject")
    classes = _CLASS_SEPARATORS.get(profile.prompt_style, ", ").join(names)
    text = template.format(
        expr=names[0] if len(names) == 1 else classes,
        classes=classes,
        first=names[0],
        scale=_scale_words(profile),
    )
    if thinking is False and profile.thinking is Thinking.PROMPT and profile.thinking_suffix:
        text = f"{text} {profile.thinking_suffix}"
    return text


def messages(text: str, image_url: str = IMAGE_PLACEHOLDER) -> list[dict[str, Any]]:
    """One user message in OpenAI chat format: the image part first, then the text."""
    return [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": image_url}},
                {"type": "text", "text": text},
            ],
        }
    ]


def locate(
    expression: str,
    *,
    model: str | Profile = "glm-4.5v",
    image_url: str = IMAGE_PLACEHOLDER,
    thinking: bool | None = None,
) -> list[dict[str, Any]]:
    """Messages asking for the box (or boxes) of one referring expression."""
    return messages(prompt_text("locate", expression, model=model, thinking=thinking), image_url)


def detect(
    classes: str | Sequence[str],
    *,
    model: str | Profile = "glm-4.5v",
    image_url: str = IMAGE_PLACEHOLDER,
    thinking: bool | None = None,
) -> list[dict[str, Any]]:
    """Messages asking for every instance of each category, as a labelled list.

    ``classes`` is a list or a comma-separated string (``"scratch, dent"``).
    """
    if isinstance(classes, str):
        classes = [c for c in (part.strip() for part in classes.split(",")) if c]
    return messages(prompt_text("detect", classes, model=model, thinking=thinking), image_url)


def point(
    expression: str,
    *,
    model: str | Profile = "glm-4.5v",
    image_url: str = IMAGE_PLACEHOLDER,
    thinking: bool | None = None,
) -> list[dict[str, Any]]:
    """Messages asking for a point on the object an expression describes."""
    return messages(prompt_text("point", expression, model=model, thinking=thinking), image_url)


def gui_element(
    instruction: str,
    *,
    model: str | Profile = "glm-4.5v",
    image_url: str = IMAGE_PLACEHOLDER,
    thinking: bool | None = None,
) -> list[dict[str, Any]]:
    """Messages asking where to act on a screenshot for an instruction (GUI grounding)."""
    return messages(prompt_text("gui", instruction, model=model, thinking=thinking), image_url)
