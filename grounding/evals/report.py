"""Run reports: ``metrics.json``, ``report.md`` and ``report.html`` (with the worst cases)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from grounding.datasets import Sample
from grounding.evals.calibration import ReliabilityBin, reliability_svg

__all__ = ["public_metrics", "write_report"]

_HIDDEN = ("ious", "results", "answers")


def public_metrics(scored: dict[str, Any]) -> dict[str, Any]:
    """The scores without per-sample arrays, ready for JSON."""
    splits = {
        name: {k: v for k, v in metrics.items() if k not in _HIDDEN}
        for name, metrics in scored["splits"].items()
    }
    return {**{k: v for k, v in scored.items() if k != "splits"}, "splits": splits}


def _table(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in metrics.items():
        if key in _HIDDEN or key == "warnings" or isinstance(value, (dict, list, np.ndarray)):
            continue
        if isinstance(value, float):
            shown = (
                f"{value * 100:.2f}"
                if key not in ("tp", "fp", "fn") and value <= 1
                else f"{value:g}"
            )
        else:
            shown = str(value)
        rows.append((key, shown))
    return rows


def _worst(
    samples: list[Sample], metrics: dict[str, Any], count: int
) -> list[tuple[Sample, Any, float, str]]:
    ious = metrics.get("ious")
    results = metrics.get("results") or []
    answers = metrics.get("answers") or [""] * len(samples)
    if ious is None:
        return []
    order = np.argsort(ious, kind="stable")[:count]
    return [(samples[i], results[i], float(ious[i]), answers[i]) for i in order]


def _reliability_svg(rows: list[dict[str, Any]]) -> str:
    return reliability_svg([ReliabilityBin(**row) for row in rows])


def write_report(
    out: Path,
    scored: dict[str, Any],
    config: dict[str, Any],
    samples_by_split: dict[str, list[Sample]],
    *,
    gallery: int = 12,
) -> dict[str, Path]:
    """Write the three report files (and gallery images) into ``out``; returns their paths."""
    from grounding.annotate import compare

    out.mkdir(parents=True, exist_ok=True)
    public = public_metrics(scored)
    (out / "metrics.json").write_text(json.dumps({"config": config, **public}, indent=2))
    md = [f"# {config.get('dataset')} · {config.get('model')}", "", "## Configuration", ""]
    md += [f"- **{k}**: {v}" for k, v in config.items()]
    cards = []
    for split, metrics in scored["splits"].items():
        md += ["", f"## {split} (N = {metrics['n']})", "", "| metric | value |", "|---|---|"]
        md += [f"| {k} | {v} |" for k, v in _table(metrics)]
        for warning in metrics.get("warnings", []):
            md.append(f"\n> {warning}")
        if metrics.get("reliability"):
            diagram = f"reliability-{split}.svg"
            (out / diagram).write_text(_reliability_svg(metrics["reliability"]))
            md += ["", f"![reliability: precision by confidence]({diagram})"]
        worst = _worst(samples_by_split.get(split, []), metrics, gallery)
        if worst:
            md += ["", "### Worst cases (ground truth green, prediction red)", ""]
            (out / "gallery").mkdir(exist_ok=True)
        for sample, result, value, answer in worst:
            name = f"gallery/{split}-{sample.id}.jpg"
            try:
                pred = result.boxes[:1] if result is not None else []
                compare(sample.image, sample.boxes, pred).save(out / name, quality=85)
            except Exception as exc:  # a missing image must not lose the report
                md.append(f"- {sample.id}: image not drawn ({exc})")
                continue
            caption = f"{sample.id}: “{sample.expression}” IoU {value:.2f}"
            shown = answer.replace("`", "'")
            md.append(f"![{caption}]({name})  \n{caption}  \nanswer: `{shown}`\n")
            cards.append((name, caption, answer))
    if scored.get("summary"):
        md += ["", "## Across splits", ""] + [f"- {k}: {v}" for k, v in scored["summary"].items()]
    (out / "report.md").write_text("\n".join(md) + "\n")
    page = [
        "<!doctype html><meta charset=utf-8><title>grounding report</title>",
        "<style>body{font:14px system-ui;margin:2em}td,th{padding:2px 10px;text-align:left}"
        "figure{display:inline-block;margin:6px;width:300px}img{width:100%}</style>",
        f"<h1>{html.escape(str(config.get('dataset')))} · "
        f"{html.escape(str(config.get('model')))}</h1>",
        "<h2>Configuration</h2><table>",
    ]
    page += [
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in config.items()
    ]
    page.append("</table>")
    for split, metrics in scored["splits"].items():
        page.append(f"<h2>{html.escape(split)} (N = {metrics['n']})</h2><table>")
        page += [
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in _table(metrics)
        ]
        page.append("</table>")
        if metrics.get("reliability"):
            page.append(
                "<h3>Reliability (precision by confidence; the dashed line is perfect "
                f"calibration)</h3>{_reliability_svg(metrics['reliability'])}"
            )
    if cards:
        page.append("<h2>Worst cases</h2><p>ground truth green, prediction red</p>")
        page += [
            f'<figure><img src="{html.escape(n)}">'
            f"<figcaption>{html.escape(c)}<br>answer: <code>{html.escape(a)}</code>"
            "</figcaption></figure>"
            for n, c, a in cards
        ]
    (out / "report.html").write_text("\n".join(page) + "\n")
    return {
        "metrics": out / "metrics.json",
        "markdown": out / "report.md",
        "html": out / "report.html",
    }
