"""Thresholds for a screening test, calibration, and what a per-class table fixes of its confusion matrix."""

import numpy as np
import pytest

from medcnn.errors import DataError
from medcnn.evaluation.calibration import expected_calibration_error, plot_reliability_diagram, reliability_table
from medcnn.evaluation.confusion_bounds import confusion_bounds, count_intervals, predicted_counts
from medcnn.evaluation.thresholds import rates_at_threshold, threshold_for_sensitivity


def test_the_threshold_reaches_the_target_sensitivity_and_no_higher_one_does():
    generator = np.random.default_rng(0)
    labels = generator.integers(0, 2, 400)
    scores = np.clip(0.5 * labels + generator.normal(0.25, 0.2, 400), 0, 1)
    for target in (0.8, 0.9, 0.95, 1.0):
        threshold = threshold_for_sensitivity(labels, scores, target=target)
        assert rates_at_threshold(labels, scores, threshold=threshold)["sensitivity"] >= target
        assert rates_at_threshold(labels, scores, threshold=threshold + 1e-9)["sensitivity"] < target
    # two probability columns, as predict_probabilities gives them, mean the same
    both = np.stack([1 - scores, scores], axis=1)
    assert threshold_for_sensitivity(labels, both, target=0.9) == threshold_for_sensitivity(labels, scores, target=0.9)


def test_threshold_errors_name_the_problem():
    with pytest.raises(DataError, match="no positive image"):
        threshold_for_sensitivity([0, 0], [0.1, 0.2])
    with pytest.raises(DataError, match="target=1.5"):
        threshold_for_sensitivity([0, 1], [0.1, 0.2], target=1.5)
    with pytest.raises(DataError, match=r"y_true holds \[0, 2\]"):
        rates_at_threshold([0, 2], [0.1, 0.2])


def test_calibration_of_calibrated_and_overconfident_scores():
    generator = np.random.default_rng(1)
    scores = generator.uniform(0, 1, 20_000)
    labels = (generator.uniform(0, 1, 20_000) < scores).astype(int)  # calibrated by construction
    assert expected_calibration_error(labels, scores) < 0.02
    overconfident = np.where(scores > 0.5, 0.99, 0.01)
    assert expected_calibration_error(labels, overconfident) > 0.2
    table = reliability_table(labels, scores, bins=5)
    assert table["images"].sum() == 20_000 and len(table) == 5
    assert plot_reliability_diagram(labels, scores, bins=5).axes[0].get_ylabel() == "observed share of positives"
    with pytest.raises(DataError, match="outside 0-1"):
        reliability_table([0, 1], [0.2, 1.5])


def test_the_studys_tables_fix_their_confusion_matrices():
    # Tabla B.6 (study lines 3120-3148): brain tumour and retina are fixed, COVID-19 up to ranges
    low, high = confusion_bounds([100, 247, 87], [117, 255, 87], [0.926, 0.972, 0.897])
    assert (low == high).all() and low.tolist() == [[100, 7, 10], [8, 247, 0], [0, 0, 87]]
    low, high = confusion_bounds([111, 482], [134, 506], [0.822, 0.954])
    assert low.tolist() == high.tolist() == [[111, 23], [24, 482]]
    assert predicted_counts([2010, 266, 718], [2022, 272, 737], [0.990, 0.982, 0.985]) == [(2031, 271, 729)]
    low, high = confusion_bounds([2010, 266, 718], [2022, 272, 737], [0.990, 0.982, 0.985])
    assert low[0, 1] == 1 and high[0, 1] == 5
    assert (low.sum(axis=1) <= [2022, 272, 737]).all() and (high.sum(axis=1) >= [2022, 272, 737]).all()
    with pytest.raises(DataError, match="misprint"):
        confusion_bounds([100, 247, 87], [117, 255, 87], [0.5, 0.5, 0.5])


def test_count_intervals_hold_the_point_estimates():
    table = count_intervals([100, 247, 87], [117, 255, 87], [0.926, 0.972, 0.897],
                            class_names=["meningioma", "glioma", "pituitary"])
    assert table.loc["all", "images"] == 459 and table.loc["all", "recall"] == pytest.approx(434 / 459)
    for name in ("meningioma", "glioma", "pituitary"):
        row = table.loc[name]
        assert row["recall low"] <= row["recall"] <= row["recall high"]
        assert row["precision low"] <= row["precision"] + 0.0005 and row["precision"] - 0.0005 <= row["precision high"]
