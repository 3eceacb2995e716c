"""Draw a result on its image with supervision's annotators, legible at any image size.

>>> from PIL import Image
>>> from grounding import Grounding
>>> result = Grounding(boxes=[[10, 20, 300, 400]], labels=["cat"])
>>> annotate(Image.new("RGB", (640, 480)), result).size
(640, 480)
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from PIL import Image

from grounding.images import ImageSource, load_image
from grounding.result import Grounding

if TYPE_CHECKING:
    import supervision as sv

__all__ = ["annotate", "compare"]


def _subset(detections: sv.Detections, mask: Any) -> sv.Detections:
    """``detections[mask]``, typed (supervision's indexing returns a union)."""
    if not len(detections):
        return detections
    return cast("sv.Detections", detections[mask])


def annotate(image: ImageSource, result: Grounding, *, labels: bool = True) -> Image.Image:
    """A copy of the upright ``image`` with the boxes, points and polygons of ``result``.

    Colours follow the label (one colour per class); line width and text size scale with
    the image so that a 12 MP photo and a 320 px thumbnail are both readable.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # supervision: "OpenCV is not installed"
        import supervision as sv

    picture = load_image(image).convert("RGB")
    size = picture.size
    thickness = max(2, sv.calculate_optimal_line_thickness(resolution_wh=size))
    text_scale = max(0.5, sv.calculate_optimal_text_scale(resolution_wh=size))
    scene = np.ascontiguousarray(np.asarray(picture)[:, :, ::-1])  # supervision draws in BGR

    detections = result.to_detections()
    names = list(detections.data["class_name"]) if len(detections) else []
    palette = sv.ColorPalette.DEFAULT
    colours = {name: palette.by_idx(i) for i, name in enumerate(dict.fromkeys(names))}
    boxes = _subset(detections, ~np.asarray(detections.data.get("polygon", []), dtype=bool))
    scene = sv.BoxAnnotator(thickness=thickness).annotate(scene, boxes)
    for polygon, label in zip(result.polygons, result.polygon_labels, strict=True):
        colour = colours.get(label or "", palette.by_idx(0))
        scene = sv.draw_polygon(scene, np.round(polygon).astype(np.int64), colour, thickness)

    point_names = [label or "" for label in result.point_labels]
    point_ids = {name: i for i, name in enumerate(dict.fromkeys(point_names))}
    points = sv.Detections(
        xyxy=np.hstack([result.points, result.points]).reshape(-1, 4),
        class_id=np.array([point_ids[n] for n in point_names], dtype=int),
        data={"class_name": np.array(point_names, dtype=str)},
    )
    if len(points):
        scene = sv.DotAnnotator(radius=thickness * 3, position=sv.Position.CENTER).annotate(
            scene, points
        )

    if labels:
        label_annotator = sv.LabelAnnotator(
            text_scale=text_scale,
            text_thickness=max(1, thickness // 2),
            text_padding=max(4, thickness * 2),
            smart_position=True,
        )
        for group in (detections, points):
            named = _subset(group, np.asarray(group.data.get("class_name", [])) != "")
            if len(named):
                scene = label_annotator.annotate(
                    scene, named, labels=list(named.data["class_name"])
                )
    return Image.fromarray(np.ascontiguousarray(scene[:, :, ::-1]))


def compare(image: ImageSource, truth: Any, prediction: Any) -> Image.Image:
    """Ground-truth boxes in green and predicted boxes in red (evaluation galleries)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import supervision as sv

    picture = load_image(image).convert("RGB")
    thickness = max(2, sv.calculate_optimal_line_thickness(resolution_wh=picture.size))
    scene = np.ascontiguousarray(np.asarray(picture)[:, :, ::-1])
    for boxes, colour in ((truth, sv.Color.GREEN), (prediction, sv.Color.RED)):
        xyxy = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(xyxy):
            annotator = sv.BoxAnnotator(
                color=colour, thickness=thickness, color_lookup=sv.ColorLookup.INDEX
            )
            scene = annotator.annotate(scene, sv.Detections(xyxy=xyxy))
    return Image.fromarray(np.ascontiguousarray(scene[:, :, ::-1]))
