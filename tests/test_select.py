"""Picking winners: on the validation subset by default, on the test subset as the study did."""

import subprocess
import sys

import pandas as pd
import pytest

from medcnn.errors import DataError
from medcnn.experiments.select import DEFAULT_SELECT_ON, select_winner, selection_scores, validation_score


def _stage_rows():
    """Three settings: b is best on the test subset, a on the validation subset (two seeds each)."""
    return pd.DataFrame({
        "setting_id": ["a", "a", "b", "b", "c", "c"], "seed": [0, 1, 0, 1, 0, 1], "status": "completed",
        "correct": [420, 422, 426, 428, 410, 412], "f1_macro": [0.90, 0.91, 0.92, 0.92, 0.88, 0.88],
        "val_accuracy": [0.95, 0.94, 0.92, 0.93, 0.95, 0.94], "val_loss": [0.20, 0.22, 0.25, 0.24, 0.30, 0.31],
    })  # fmt: skip


def test_the_two_rules_can_pick_different_winners():
    rows = _stage_rows()
    assert DEFAULT_SELECT_ON == "val"
    assert select_winner(rows, select_on="test")["setting_id"] == "b"  # most test images correct
    assert select_winner(rows)["setting_id"] == "a"  # a and c tie on val accuracy; a's val loss is lower
    scores = selection_scores(rows, select_on="val").set_index("setting_id")
    assert scores.loc["a", "val_accuracy"] == pytest.approx(0.945) and scores.loc["a", "val_loss"] == pytest.approx(0.21)


def test_a_diverged_run_scores_worst_on_validation_too():
    rows = _stage_rows()
    rows.loc[0, ["status", "val_accuracy", "val_loss"]] = ["diverged", None, None]
    assert select_winner(rows)["setting_id"] == "c"  # a's mean val accuracy falls to 0.47


def test_picking_on_val_without_validation_scores_says_what_to_do():
    rows = _stage_rows().drop(columns=["val_accuracy", "val_loss"])
    with pytest.raises(DataError, match="--select-on test"):
        select_winner(rows, select_on="val")
    with pytest.raises(DataError, match="select_on='sharpness'.*val, test"):
        select_winner(_stage_rows(), select_on="sharpness")


def test_validation_score_is_the_kept_epochs():
    history = pd.DataFrame({
        "epoch": [1, 2, 3, 4, 5], "stage": ["train", "train", "train", "fine_tune", "fine_tune"],
        "val_loss": [0.5, 0.2, 0.3, 0.35, 0.25], "val_accuracy": [0.7, 0.9, 0.91, 0.88, 0.89],
    })  # fmt: skip
    # fine-tuning ran last: its lowest validation loss (epoch 5), not the frozen stage's (epoch 2)
    assert validation_score(history) == {"val_accuracy": 0.89, "val_loss": 0.25}
    assert validation_score(history[history["stage"] == "train"]) == {"val_accuracy": 0.9, "val_loss": 0.2}
    assert validation_score(pd.DataFrame({"loss": [1.0]})) == {}


def test_study_command_offers_select_on_with_val_by_default():
    result = subprocess.run([sys.executable, "-m", "medcnn", "study", "--help"], capture_output=True, text=True,
                            check=True)
    assert "--select-on {val,test}" in result.stdout
    from medcnn.cli import build_parser

    arguments = build_parser().parse_args(["study", "--dataset", "retina", "--stage", "1", "--out", "x"])
    assert arguments.select_on == "val"
    arguments = build_parser().parse_args(["study", "--dataset", "retina", "--stage", "1", "--out", "x",
                                           "--select-on", "test"])
    assert arguments.select_on == "test"
