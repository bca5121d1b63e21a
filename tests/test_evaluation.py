"""Tests of medcnn.evaluation: metrics by hand, AUC against scikit-learn, the bootstrap, figures and reports."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dataclasses
import io
import json
import time
from pathlib import Path

import numpy as np
import pandas
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from medcnn.errors import ConfigError, DataError
from medcnn.evaluation.bootstrap import bootstrap_counts, bootstrap_distributions, bootstrap_interval, group_codes
from medcnn.evaluation.figures import (
    plot_class_counts,
    plot_confusion_matrix,
    plot_image_grid,
    plot_learning_curves,
    plot_prediction_grid,
    plot_roc_curves,
)
from medcnn.evaluation.markdown import format_classification_table
from medcnn.evaluation.metrics import classification_table, evaluate_predictions, majority_baseline
from medcnn.evaluation.palette import WRONG_COLOUR
from medcnn.evaluation.predictions import as_probability_columns, predicted_labels
from medcnn.evaluation.report import read_metrics, write_run_report

CLASSES = ["meningioma", "glioma", "pituitary"]
# Confusion matrix, filled by hand (rows true, columns predicted):
#   meningioma: 2 1 1   glioma: 1 2 0   pituitary: 0 0 3
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 2, 1, 1, 0, 2, 2, 2])


def one_hot_probabilities(labels, num_classes, confidence=0.8):
    """Probabilities whose argmax is ``labels``."""
    rest = (1.0 - confidence) / (num_classes - 1)
    probabilities = np.full((len(labels), num_classes), rest)
    probabilities[np.arange(len(labels)), labels] = confidence
    return probabilities


def noisy_probabilities(labels, num_classes, *, seed, signal=1.5, decimals=None):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(labels), num_classes))
    logits[np.arange(len(labels)), labels] += signal
    if decimals is not None:
        logits = np.round(logits, decimals)  # coarse logits give tied scores
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


# --- metrics ---------------------------------------------------------------


def test_classification_table_matches_hand_computed_values():
    table = classification_table(Y_TRUE, Y_PRED, CLASSES)
    assert list(table.index) == CLASSES + ["accuracy", "macro average", "weighted average"]
    assert list(table.columns) == ["precision", "recall", "f1", "support", "correct", "incorrect", "accuracy"]
    expected = {
        "meningioma": (2 / 3, 2 / 4, 4 / 7, 4, 2, 2),
        "glioma": (2 / 3, 2 / 3, 2 / 3, 3, 2, 1),
        "pituitary": (3 / 4, 3 / 3, 6 / 7, 3, 3, 0),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(
            table.loc[name, ["precision", "recall", "f1", "support", "correct", "incorrect"]].to_numpy(dtype=float),
            values,
        )
        assert np.isnan(table.loc[name, "accuracy"])
    np.testing.assert_allclose(table.loc["macro average", ["precision", "recall", "f1"]].to_numpy(dtype=float),
                               [25 / 36, 13 / 18, 44 / 63])
    # Weighted by support 4, 3, 3.
    np.testing.assert_allclose(
        table.loc["weighted average", ["precision", "recall", "f1"]].to_numpy(dtype=float),
        [(4 * 2 / 3 + 3 * 2 / 3 + 3 * 3 / 4) / 10, 7 / 10, (4 * 4 / 7 + 3 * 2 / 3 + 3 * 6 / 7) / 10],
    )
    assert table.loc["accuracy", "accuracy"] == pytest.approx(0.7)
    assert table.loc["accuracy", ["support", "correct", "incorrect"]].tolist() == [10, 7, 3]


def test_classification_table_rejects_bad_input():
    with pytest.raises(ConfigError, match="y_pred"):
        classification_table(Y_TRUE, Y_PRED[:-1], CLASSES)
    with pytest.raises(ConfigError, match="0..2"):
        classification_table(Y_TRUE, Y_PRED + 1, CLASSES)
    with pytest.raises(ConfigError, match="summary row"):
        classification_table([0, 1], [0, 1], ["accuracy", "b"])


def test_evaluate_predictions_hand_computed_multiclass():
    probabilities = one_hot_probabilities(Y_PRED, 3)
    result = evaluate_predictions(Y_TRUE, probabilities, CLASSES, bootstrap_samples=200)
    assert result["accuracy"] == pytest.approx(0.7)
    assert (result["correct"], result["incorrect"], result["total"]) == (7, 3, 10)
    assert result["f1_macro"] == pytest.approx(44 / 63)
    assert result["precision_macro"] == pytest.approx(25 / 36)
    assert result["recall_macro"] == pytest.approx(13 / 18)
    assert result["f1_weighted"] == pytest.approx((16 / 7 + 2 + 18 / 7) / 10)
    assert result["confusion_matrix"]["counts"] == [[2, 1, 1], [1, 2, 0], [0, 0, 3]]
    np.testing.assert_allclose(result["confusion_matrix"]["normalized"],
                               [[0.5, 0.25, 0.25], [1 / 3, 2 / 3, 0], [0, 0, 1]])
    assert result["classification_table"]["pituitary"]["correct"] == 3
    assert result["classification_table"]["pituitary"]["accuracy"] is None
    json.dumps(result, allow_nan=False)  # JSON-serialisable, no NaN


def test_majority_baseline_uses_most_frequent_test_label():
    baseline = majority_baseline(Y_TRUE, CLASSES)
    assert baseline["class_name"] == "meningioma"
    assert baseline["accuracy"] == pytest.approx(0.4)
    # Only meningioma has a non-zero F1: 2 * 4 / (4 + 10).
    assert baseline["f1_macro"] == pytest.approx((8 / 14) / 3)
    assert "y_true" in baseline["source"]
    result = evaluate_predictions(Y_TRUE, one_hot_probabilities(Y_PRED, 3), CLASSES, bootstrap_samples=10)
    assert result["majority_baseline"] == baseline


def test_roc_auc_binary_and_multiclass_match_scikit_learn():
    rng = np.random.default_rng(1)
    binary_labels = rng.integers(0, 2, 80)
    positive = np.clip(0.5 * binary_labels + rng.uniform(0, 0.6, 80), 0, 1)
    binary = evaluate_predictions(binary_labels, positive, ["healthy", "diseased"], bootstrap_samples=50)
    assert binary["roc_auc"] == pytest.approx(roc_auc_score(binary_labels, positive))
    assert binary["roc_auc_note"] is None

    labels = rng.integers(0, 3, 90)
    probabilities = noisy_probabilities(labels, 3, seed=2)
    multiclass = evaluate_predictions(labels, probabilities, CLASSES, bootstrap_samples=50)
    assert multiclass["roc_auc"] == pytest.approx(roc_auc_score(labels, probabilities, multi_class="ovr"))
    assert multiclass["roc_auc_kind"] == "one-vs-rest macro average"


def test_roc_auc_is_none_with_reason_when_a_class_is_absent():
    labels = np.array([0, 1, 0, 1])
    result = evaluate_predictions(labels, one_hot_probabilities(labels, 3), CLASSES, bootstrap_samples=20)
    assert result["roc_auc"] is None
    assert "pituitary" in result["roc_auc_note"]
    assert result["confidence_intervals"]["roc_auc"]["low"] is None
    assert result["confusion_matrix"]["normalized"][2] == [None, None, None]


def test_probabilities_are_checked():
    with pytest.raises(ConfigError, match="one column per class"):
        evaluate_predictions([0, 1, 2], np.full((3, 2), 0.5), CLASSES)
    with pytest.raises(ConfigError, match="sum to 1"):
        evaluate_predictions([0, 1, 2], np.full((3, 3), 0.5), CLASSES)
    with pytest.raises(ConfigError, match="one row per image"):
        evaluate_predictions([0, 1], np.full((3, 2), 0.5), ["a", "b"])


# --- predictions -------------------------------------------------------------


def test_sigmoid_output_becomes_two_columns():
    np.testing.assert_allclose(as_probability_columns([[0.2], [0.9]]), [[0.8, 0.2], [0.1, 0.9]])
    assert predicted_labels([[0.2], [0.9], [0.5]]).tolist() == [0, 1, 0]
    assert predicted_labels([[0.1, 0.3, 0.6]]).tolist() == [2]
    with pytest.raises(ConfigError, match="sigmoid or softmax"):
        as_probability_columns([[3.2], [-1.0]])


def test_predict_probabilities_with_a_tiny_keras_model_keeps_row_order():
    import keras

    from medcnn.batches import ArrayBatches
    from medcnn.evaluation.predictions import predict_probabilities

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.array([[1.0], [0.0]], "float32"), np.zeros(1, "float32")])
    inputs = np.stack([np.linspace(-3, 3, 11), np.zeros(11)], axis=1).astype("float32")
    expected_positive = 1 / (1 + np.exp(-inputs[:, 0]))

    batches = ArrayBatches(inputs, np.arange(11) % 2, num_classes=2, batch_size=4, shuffle=True, seed=3,
                           indices=np.arange(1, 11))
    assert not np.array_equal(batches.order, np.arange(10))  # really shuffled
    probabilities = predict_probabilities(model, batches)
    assert probabilities.shape == (10, 2)
    np.testing.assert_allclose(probabilities[:, 1], expected_positive[1:], rtol=1e-5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)

    from_array = predict_probabilities(model, inputs, batch_size=3)
    np.testing.assert_allclose(from_array[:, 1], expected_positive, rtol=1e-5)

    softmax = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    three = predict_probabilities(softmax, ArrayBatches(inputs, np.arange(11) % 3, num_classes=3, batch_size=5))
    assert three.shape == (11, 3)
    np.testing.assert_allclose(three.sum(axis=1), 1.0, rtol=1e-5)


# --- bootstrap ---------------------------------------------------------------


def test_bootstrap_is_seeded():
    labels = np.arange(200) % 3
    probabilities = noisy_probabilities(labels, 3, seed=4)
    first = bootstrap_interval("f1_macro", labels, probabilities, samples=300, seed=7)
    again = bootstrap_interval("f1_macro", labels, probabilities, samples=300, seed=7)
    other = bootstrap_interval("f1_macro", labels, probabilities, samples=300, seed=8)
    assert first == again
    assert first != other


@pytest.mark.parametrize("num_classes", [2, 3])
def test_vectorised_metrics_equal_scikit_learn_on_the_same_resamples(num_classes):
    labels = np.random.default_rng(5).integers(0, num_classes, 150)
    probabilities = noisy_probabilities(labels, num_classes, seed=6, decimals=1)
    everything = list(range(num_classes))

    def auc(y, p):
        return roc_auc_score(y, p[:, 1]) if num_classes == 2 else roc_auc_score(y, p, multi_class="ovr", labels=everything)

    functions = {
        "accuracy": lambda y, p: accuracy_score(y, p.argmax(axis=1)),
        "f1_macro": lambda y, p: f1_score(y, p.argmax(axis=1), average="macro", labels=everything, zero_division=0),
        "f1_weighted": lambda y, p: f1_score(y, p.argmax(axis=1), average="weighted", labels=everything,
                                             zero_division=0),
        "roc_auc": auc,
    }
    groups = [f"patient-{index % 40}" for index in range(len(labels))]
    named = bootstrap_distributions(list(functions), labels, probabilities, groups=groups, samples=60, seed=1)
    called = bootstrap_distributions(list(functions.values()), labels, probabilities, groups=groups, samples=60, seed=1)
    for name, function in functions.items():
        np.testing.assert_allclose(named[name], called[function], atol=1e-12, err_msg=name)


def test_interval_contains_point_estimate():
    labels = np.arange(300) % 3
    probabilities = noisy_probabilities(labels, 3, seed=9)
    result = evaluate_predictions(labels, probabilities, CLASSES, bootstrap_samples=500, seed=0)
    intervals = result["confidence_intervals"]
    for name in ("accuracy", "f1_macro", "roc_auc"):
        assert intervals[name]["low"] < result[name] < intervals[name]["high"], name
        assert intervals[name]["defined_samples"] == 500
    assert intervals["unit"] == "image" and intervals["units"] == 300


def test_grouped_resampling_resamples_patients():
    # 20 patients with 10 slices each; a patient's slices are all right or all wrong.
    patients = np.repeat(np.arange(20), 10)
    labels = np.tile([0, 1], 100)
    right = np.repeat(np.arange(20) % 2 == 0, 10)
    predicted = np.where(right, labels, 1 - labels)
    probabilities = one_hot_probabilities(predicted, 2)
    ids = [f"MR{patient:03d}" for patient in patients]

    counts = np.concatenate(list(bootstrap_counts(len(labels), groups=ids, samples=50, seed=0)))
    per_patient = counts.reshape(50, 20, 10)
    assert np.all(per_patient == per_patient[:, :, :1])  # slices of a patient are drawn together
    assert np.all(counts.sum(axis=1) % 10 == 0)

    by_image = bootstrap_interval("accuracy", labels, probabilities, samples=1000, seed=0)
    by_patient = bootstrap_interval("accuracy", labels, probabilities, groups=ids, samples=1000, seed=0)
    assert by_image[0] < 0.5 < by_image[1] and by_patient[0] < 0.5 < by_patient[1]
    assert (by_patient[1] - by_patient[0]) > 2 * (by_image[1] - by_image[0])

    result = evaluate_predictions(labels, probabilities, ["a", "b"], groups=ids, bootstrap_samples=100)
    assert result["confidence_intervals"]["unit"] == "patient"
    assert result["confidence_intervals"]["units"] == 20


def test_empty_patient_ids_mean_image_resampling():
    assert group_codes(["", None, float("nan")], num_items=3) is None
    assert group_codes(["a", "", "a"], num_items=3).tolist() == [0, 1, 0]
    labels = np.arange(50) % 2
    probabilities = noisy_probabilities(labels, 2, seed=3)
    assert bootstrap_interval("accuracy", labels, probabilities, groups=[""] * 50, samples=100) == \
        bootstrap_interval("accuracy", labels, probabilities, samples=100)
    with pytest.raises(ConfigError, match="groups"):
        bootstrap_interval("accuracy", labels, probabilities, groups=["a"] * 49)


def test_bootstrap_is_fast_enough():
    labels = np.arange(1000) % 3
    probabilities = noisy_probabilities(labels, 3, seed=0)
    start = time.perf_counter()
    bootstrap_distributions(["accuracy", "f1_macro", "roc_auc"], labels, probabilities, samples=1000, seed=0)
    # About 0.2 s on one core; generous because the test machines are shared.
    assert time.perf_counter() - start < 3.0


# --- figures -------------------------------------------------------------


def png_bytes(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def test_figures_render_to_png():
    rng = np.random.default_rng(0)
    labels = np.arange(30) % 3
    probabilities = noisy_probabilities(labels, 3, seed=1)
    images = rng.integers(0, 256, (30, 16, 16, 3), dtype=np.uint8)
    history = pandas.DataFrame({"epoch": [1, 2, 3], "loss": [1.0, 0.8, 0.7], "accuracy": [0.4, 0.6, 0.7],
                                "val_loss": [1.1, 0.9, 0.95], "val_accuracy": [0.4, 0.5, 0.5],
                                "learning_rate": [1e-3, 1e-3, 1e-4]})
    index = pandas.DataFrame({"class_name": np.array(CLASSES)[labels], "label": labels,
                              "subset": np.array(["train", "validation", "test"])[np.arange(30) // 10]})
    figures = [
        plot_confusion_matrix(labels, probabilities.argmax(axis=1), CLASSES, note="SMOKE RUN"),
        plot_confusion_matrix(labels, probabilities.argmax(axis=1), CLASSES, normalize=True),
        plot_learning_curves(history, title="Learning curves of a smoke run"),
        plot_prediction_grid(images, labels, probabilities, CLASSES, count=5),
        plot_roc_curves(labels, probabilities, CLASSES),
        plot_roc_curves(labels % 2, probabilities[:, 1], ["healthy", "diseased"]),
        plot_class_counts(index),
        plot_class_counts(index, hue=None),
        plot_image_grid(images[:, :, :, 0], labels, CLASSES, per_class=2),
    ]
    for figure in figures:
        data = png_bytes(figure)
        assert data.startswith(b"\x89PNG") and len(data) > 5000
        assert figure.get_suptitle()
    assert "SMOKE RUN" in figures[0].get_suptitle()
    assert figures[2].get_suptitle() == "Learning curves of a smoke run"
    assert [axes.get_title() for axes in figures[2].axes] == ["Loss", "Accuracy"]
    assert len(figures[3].axes) == 5


def test_prediction_grid_marks_wrong_predictions():
    labels = np.array([0, 1, 1, 0])
    probabilities = one_hot_probabilities(np.array([0, 1, 0, 0]), 2)  # the third image is wrong
    figure = plot_prediction_grid(np.zeros((4, 8, 8), "uint8"), labels, probabilities, ["a", "b"], count=4)
    colours = [axes.title.get_color() for axes in figure.axes]
    wrong = [axes for axes in figure.axes if "WRONG" in axes.get_title()]
    assert len(wrong) == 1 and "true: b" in wrong[0].get_title()
    assert colours.count(WRONG_COLOUR) == 1  # the palette's vermillion (medcnn.evaluation.palette)


def test_confusion_matrix_figure_shows_the_counts():
    figure = plot_confusion_matrix(Y_TRUE, Y_PRED, CLASSES)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts == ["2", "1", "1", "1", "2", "0", "0", "0", "3"]


def test_class_counts_names_missing_column():
    with pytest.raises(ConfigError, match="hue=None"):
        plot_class_counts(pandas.DataFrame({"class_name": ["a"], "split": ["train"]}))


# --- report ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SmallConfig:
    backbone: str = "vgg16"
    batch_size: int = 16
    data_dir: Path = Path("/data")


def test_write_run_report_writes_every_file(tmp_path):
    labels = np.arange(24) % 3
    probabilities = noisy_probabilities(labels, 3, seed=2)
    history = {"loss": [1.0, 0.8], "accuracy": [0.4, 0.6], "val_loss": [1.1, 0.9], "val_accuracy": [0.3, 0.5]}
    note = "SMOKE RUN: synthetic data, weights=None"
    written = write_run_report(
        tmp_path / "run", y_true=labels, probabilities=probabilities, class_names=CLASSES, history=history,
        config=SmallConfig(), images=np.zeros((24, 8, 8, 3), "uint8"), groups=[f"p{i % 6}" for i in range(24)],
        note=note, bootstrap_samples=100,
    )
    run = tmp_path / "run"
    expected = {"metrics.json", "report.md", "confusion_matrix.png", "confusion_matrix_normalized.png",
                "learning_curves.png", "prediction_grid.png", "roc_curves.png"}
    assert {path.name for path in run.iterdir()} == expected  # and no temporary files left
    for name in expected:
        if name.endswith(".png"):
            assert (run / name).read_bytes().startswith(b"\x89PNG")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics == read_metrics(run) == written
    assert metrics["config"] == {"backbone": "vgg16", "batch_size": 16, "data_dir": "/data"}
    assert metrics["note"] == note and metrics["epochs_trained"] == 2 and metrics["best_epoch"] == 2
    assert metrics["confidence_intervals"]["unit"] == "patient"
    report = (run / "report.md").read_text()
    for piece in (note, "vgg16", "macro F1", "ROC AUC", "majority baseline", "| glioma |",
                  "(confusion_matrix.png)", "(learning_curves.png)", "(prediction_grid.png)", "(roc_curves.png)"):
        assert piece in report, piece

    # A second report without history or images removes the figures that no longer match.
    write_run_report(run, y_true=labels, probabilities=probabilities, class_names=CLASSES, bootstrap_samples=20)
    assert not (run / "learning_curves.png").exists() and not (run / "prediction_grid.png").exists()
    assert read_metrics(run)["note"] is None


def test_read_metrics_explains_a_missing_report(tmp_path):
    with pytest.raises(DataError, match="metrics.json"):
        read_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text("{half")
    with pytest.raises(DataError, match="not valid JSON"):
        read_metrics(tmp_path)


def test_format_classification_table():
    text = format_classification_table(classification_table(Y_TRUE, Y_PRED, CLASSES))
    lines = text.splitlines()
    assert lines[0] == "| class | precision | recall | f1 | support | correct | incorrect | accuracy |"
    assert lines[2] == "| meningioma | 0.667 | 0.500 | 0.571 | 4 | 2 | 2 |  |"
    assert lines[5] == "| accuracy |  |  |  | 10 | 7 | 3 | 0.700 |"
    assert len(lines) == 2 + 3 + 3
