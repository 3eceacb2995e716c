from __future__ import annotations

import numpy as np
import pytest

from grounding.evals import aggregate_splits, score_points, score_referring

GT = [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]]


def test_scores_by_hand() -> None:
    # IoUs: 1.0, 0.5 (half overlap 50/100... see below), missing, 0
    pred = [[0, 0, 10, 10], [0, 0, 10, 5], None, [20, 20, 30, 30]]
    s = score_referring(pred, GT)
    assert s["n"] == 4 and s["n_parse_fail"] == 1
    assert s["acc@0.5"] == pytest.approx(2 / 4)  # 1.0 and exactly 0.5 (>=)
    assert s["acc@0.75"] == pytest.approx(1 / 4)
    assert s["acc@0.5_valid"] == pytest.approx(2 / 3)
    assert s["miou"] == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    # cIoU: sum of intersections over sum of unions; a missing answer adds its GT area
    assert s["ciou"] == pytest.approx((100 + 50 + 0 + 0) / (100 + 100 + 100 + 200))
    assert s["centre_acc"] == pytest.approx(2 / 4)


def test_strict_mode_uses_greater_than() -> None:
    assert score_referring([[0, 0, 10, 5]], GT[:1], strict=True)["acc@0.5"] == 0.0
    assert score_referring([[0, 0, 10, 5]], GT[:1])["acc@0.5"] == 1.0


def test_points() -> None:
    s = score_points([[5, 5], [0, 0, 4, 4], None, [50, 50]], GT)
    assert s == {"n": 4, "n_parse_fail": 1, "point_acc": 0.5, "point_acc_valid": pytest.approx(2 / 3)}


def test_aggregate() -> None:
    per = {"refcoco/val": {"n": 100, "acc@0.5": 0.9}, "refcoco/testA": {"n": 300, "acc@0.5": 0.5}}
    agg = aggregate_splits(per)
    assert agg["macro"] == pytest.approx(0.7) and agg["weighted"] == pytest.approx(0.6)
    assert agg["n"] == 400 and agg["avg8"] is None
    assert agg["avg_val3"] is None  # one val split is not the mean of three
    eight = {f"d{i}/{s}": {"n": 1, "acc@0.5": i / 10} for i in range(4) for s in ("val", "test")}
    assert aggregate_splits(eight)["avg8"] == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("names", "avg_val3"),
    [
        # the three val splits: their mean
        (["refcoco/val", "refcoco+/val", "refcocog/val"], pytest.approx(0.2)),
        # the three val splits among others
        (["refcoco/val", "refcoco+/val", "refcocog/val", "refcoco/testA"], pytest.approx(0.2)),
        # two of three: not printed
        (["refcoco/val", "refcoco+/val"], None),
        # a single val split
        (["val", "testA", "testB"], None),
    ],
)
def test_avg_val3_only_when_all_three_parts_exist(names, avg_val3) -> None:
    values = {"refcoco/val": 0.1, "refcoco+/val": 0.2, "refcocog/val": 0.3}
    per = {name: {"n": 10, "acc@0.5": values.get(name, 0.9)} for name in names}
    assert aggregate_splits(per)["avg_val3"] == avg_val3


def test_empty() -> None:
    assert score_referring([], np.empty((0, 4)))["acc@0.5"] == 0.0
