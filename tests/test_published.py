"""The study's tables as data: every number transcribed, its arithmetic checked, every misprint listed."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medcnn.errors import DataError
from medcnn.evaluation.intervals import wilson_interval
from medcnn.experiments.published import (
    AVERAGE,
    TABLE_COLUMNS,
    best_configurations,
    find_inconsistencies,
    load_augmentation_ranges,
    load_misprints,
    load_published_results,
    load_study_subsets,
    load_study_tables,
    published_table,
)

# Rows per table: printed rows, B.5/B.6 and 5.5-5.7 rows counted twice (before and after).
EXPECTED_ROWS = {"5.1": 3, "5.2": 3, "5.3": 3, "5.4": 3, "5.5": 6, "5.6": 6, "5.7": 6, "5.8": 3,
                 "B.1": 12, "B.2": 12, "B.3": 12, "B.4": 15, "B.5": 22, "B.6": 22}


def _misprinted(column: str) -> set:
    misprints = load_misprints()
    misprints = misprints[misprints["column"] == column]
    return {(row.table, row.dataset, row.model, int(row.batch_size), float(row.learning_rate), row.augment == "True",
             row.fine_tune == "True", row.class_name) for row in misprints.itertuples()}


def _key(row) -> tuple:
    return (row.table, row.dataset, row.model, int(row.batch_size), float(row.learning_rate), bool(row.augment),
            bool(row.fine_tune), row.class_name)


def test_every_table_is_transcribed_in_the_tidy_layout():
    tables = load_study_tables()
    assert tuple(tables.columns) == TABLE_COLUMNS
    assert tables["table"].value_counts().to_dict() == EXPECTED_ROWS
    assert (tables["source"] == "Tabla " + tables["table"]).all()
    assert not tables.duplicated(["table", "dataset", "model", "batch_size", "learning_rate", "augment", "fine_tune",
                                  "class_name"]).any()
    # Every printed number but Tabla 5.8's (a table of settings) is there.
    results = tables[tables["table"] != "5.8"]
    assert results[["precision", "recall", "f1", "accuracy", "correct", "incorrect", "total"]].notna().all().all()
    # The thousands dot read as thousands: Tabla B.2, VGG-16 at batch 32 prints "2.952 79 3.031".
    row = tables[(tables["table"] == "B.2") & (tables["model"] == "vgg16") & (tables["batch_size"] == 32)].iloc[0]
    assert (row["correct"], row["incorrect"], row["total"], row["accuracy"]) == (2952, 79, 3031, 0.974)
    # A per-class row of the annex, and a learning-rate row.
    glioma = tables[(tables["table"] == "B.6") & (tables["class_name"] == "glioma") & tables["fine_tune"]].iloc[0]
    assert glioma[["precision", "recall", "f1", "correct", "total"]].tolist() == [0.972, 0.969, 0.971, 247, 255]
    assert set(tables.loc[tables["table"] == "B.4", "learning_rate"]) == {0.1, 0.01, 0.001, 0.0001, 0.00001}
    subsets = load_study_subsets()
    assert len(subsets) == 33
    assert subsets.set_index(["dataset", "subset", "class_name"]).loc[("covid19", "test", "viral_pneumonia"), "images"] == 272
    ranges = load_augmentation_ranges()
    assert len(ranges) == 21 and set(ranges.loc[ranges["transformation"] == "rotation", "value"]) == {"15", "10"}


def test_the_study_subsets_are_tabla_4_1():
    subsets = load_study_subsets(corrected=True).set_index(["dataset", "subset", "class_name"])["images"]
    assert [subsets[("brain_tumor", subset, "total")] for subset in ("train", "val", "test")] == [2121, 484, 459]
    assert [subsets[("brain_tumor", "test", name)] for name in ("meningioma", "glioma", "pituitary")] == [117, 255, 87]
    assert [subsets[("covid19", subset, "total")] for subset in ("train", "val", "test")] == [9091, 3031, 3031]
    assert [subsets[("covid19", "test", name)] for name in ("normal", "viral_pneumonia", "covid")] == [2022, 272, 737]
    assert [subsets[("retina", subset, "total")] for subset in ("train", "val", "test")] == [1920, 640, 640]
    assert load_study_subsets().set_index(["dataset", "subset", "class_name"])["images"][("retina", "train", "total")] == 3200


def test_correct_plus_incorrect_is_total_except_listed_misprints():
    listed = _misprinted("total") | _misprinted("incorrect") | _misprinted("correct")
    tables = load_study_tables()
    failing = {_key(row) for row in tables[tables["total"].notna()].itertuples()
               if row.correct + row.incorrect != row.total}
    assert failing and failing <= listed


def test_accuracy_is_correct_over_total_except_listed_misprints():
    tables = load_study_tables()
    averages = tables[(tables["class_name"] == AVERAGE) & tables["total"].notna()]
    listed = _misprinted("accuracy") | _misprinted("total") | _misprinted("incorrect")
    failing = {_key(row) for row in averages.itertuples() if abs(row.accuracy - row.correct / row.total) > 0.001}
    # 5.7's retina row is misprinted as a whole: its accuracy agrees with its own wrong counts.
    assert {key for key in _misprinted("accuracy") if key[0] != "5.7"} <= failing <= listed


def test_class_counts_match_tabla_4_1_test_subsets():
    subsets = load_study_subsets().query("subset == 'test'").set_index(["dataset", "class_name"])["images"]
    tables = load_study_tables()
    listed = _misprinted("total")
    for row in tables[tables["total"].notna()].itertuples():
        expected = subsets[(row.dataset, "total" if row.class_name == AVERAGE else row.class_name)]
        assert row.total == expected or _key(row) in listed, _key(row)
        if row.class_name != AVERAGE:  # a class's recall is its correct / its images
            assert abs(row.recall - row.correct / expected) <= 0.001 or _key(row) in _misprinted("recall"), _key(row)


def test_corrected_tables_agree_everywhere():
    assert find_inconsistencies(load_study_tables(corrected=True), load_study_subsets(corrected=True)).empty


def test_every_listed_misprint_is_needed():
    """Undo any one correction and the study's arithmetic (or another table) disagrees again."""
    tables = load_study_tables(corrected=True)
    subsets = load_study_subsets(corrected=True)
    misprints = load_misprints()
    assert not find_inconsistencies().empty  # as printed, the tables disagree
    for misprint in misprints[misprints["table"] != "text"].itertuples():
        if misprint.table == "4.1":
            undone = subsets.copy()
            where = (undone["dataset"] == misprint.dataset) & (undone["subset"] == misprint.subset) & (
                undone["class_name"] == misprint.class_name)
            undone.loc[where, "images"] = int(misprint.printed)
            assert not find_inconsistencies(tables, undone).empty, misprint
            continue
        undone = tables.copy()
        where = ((undone["table"] == misprint.table) & (undone["dataset"] == misprint.dataset)
                 & (undone["model"] == misprint.model) & (undone["batch_size"] == int(misprint.batch_size))
                 & np.isclose(undone["learning_rate"], float(misprint.learning_rate))
                 & (undone["augment"] == (misprint.augment == "True"))
                 & (undone["fine_tune"] == (misprint.fine_tune == "True"))
                 & (undone["class_name"] == misprint.class_name))
        assert where.sum() == 1, misprint
        undone.loc[where, misprint.column] = float(misprint.printed)
        assert not find_inconsistencies(undone, subsets).empty, misprint


def test_the_reviews_misprints_are_listed():
    misprints = load_misprints()
    listed = {(row.table, row.dataset, row.model, row.batch_size, row.class_name, row.column, row.printed,
               row.consistent) for row in misprints.itertuples()}
    expected = [
        ("B.3", "retina", "inceptionv3", "256", "average", "total", "540", "640"),
        ("B.6", "retina", "vgg16", "256", "average", "total", "540", "640"),
        ("5.2", "covid19", "vgg16", "64", "average", "f1", "0.970", "0.980"),
        ("B.2", "covid19", "vgg16", "64", "average", "f1", "0.970", "0.980"),
        ("5.3", "retina", "vgg16", "256", "average", "incorrect", "33", "47"),
        ("5.3", "retina", "resnet50", "64", "average", "incorrect", "49", "58"),
        ("5.3", "retina", "inceptionv3", "128", "average", "incorrect", "47", "54"),
        ("B.2", "covid19", "resnet50", "256", "average", "accuracy", "0.982", "0.975"),
        ("B.4", "covid19", "vgg16", "64", "average", "accuracy", "0.673", "0.667"),
        ("B.5", "brain_tumor", "resnet50", "256", "glioma", "precision", "0.998", "0.988"),
        ("B.6", "brain_tumor", "resnet50", "256", "glioma", "precision", "0.998", "0.988"),
        ("5.6", "retina", "vgg16", "256", "average", "accuracy", "0.925", "0.908"),
        ("5.7", "retina", "vgg16", "256", "average", "accuracy", "0.925", "0.908"),
        ("text", "covid19", "", "", "", "line 2296", "clase 0", "clase 2"),
        ("4.1", "retina", "", "", "total", "images", "3200", "1920"),
    ]
    assert [entry for entry in expected if entry not in listed] == []
    assert misprints["evidence"].str.len().gt(20).all()


def test_the_text_misprints_name_their_lines_and_consequences():
    misprints = load_misprints()
    text = misprints[misprints["table"] == "text"].set_index("column")
    # the wrong 97.8 % (class 2's recall before augmentation) is on line 2298; line 2296's 97.8 % is class 1's, right
    assert text.loc["line 2298", ["printed", "consistent"]].tolist() == ["97.8 %", "97.3 %"]
    assert "line 2296" in text.loc["line 2298", "evidence"]
    # lines 2127-2131: "beaten in F1 by ResNet-50" holds only with the misprinted 0.970
    tables = load_study_tables(corrected=True)
    stage1 = tables[(tables["table"] == "B.2") & (tables["class_name"] == AVERAGE)].set_index(["model", "batch_size"])
    assert stage1.loc[("vgg16", 64), "f1"] > stage1.loc[("resnet50", 128), "f1"]
    assert load_study_tables().set_index(["table", "dataset", "model", "batch_size", "class_name"]).loc[
        ("B.2", "covid19", "vgg16", 64, AVERAGE), "f1"] < stage1.loc[("resnet50", 128), "f1"]
    assert "falsifies" in text.loc["lines 2127-2131", "evidence"]
    assert text.loc["line 2320", ["printed", "consistent"]].tolist() == ["86.6 %", "87.4 %"]
    assert "fine-tuning" in text.loc["lines 3152-3154", "consistent"]
    assert set(misprints["status"]) == {"confirmed", "unresolved"}


def test_tabla_5_7_retina_row_is_unresolved_and_a_consistent_confusion_matrix():
    misprints = load_misprints()
    unresolved = misprints[misprints["status"] == "unresolved"]
    assert set(unresolved["table"]) == {"5.7"} and set(unresolved["dataset"]) == {"retina"} and len(unresolved) == 6
    assert unresolved["evidence"].str.contains("two readings").all()
    printed = load_study_tables().query("table == '5.7' and dataset == 'retina' and fine_tune").iloc[0]
    # reading (2): one split of the 592 correct images into healthy and diseased fits the printed averages,
    # computed as the study computes them (the mean of class figures rounded to three decimals)
    fits = []
    for healthy in range(135):
        diseased = int(printed["correct"]) - healthy
        if not 0 <= diseased <= 506:
            continue
        precision = [healthy / (healthy + 506 - diseased), diseased / (diseased + 134 - healthy)]
        recall = [healthy / 134, diseased / 506]
        precision, recall = np.round(precision, 3), np.round(recall, 3)
        f1 = np.round(2 * precision * recall / (precision + recall), 3)
        averages = [float(np.mean(values)) for values in (precision, recall, f1)]
        if np.allclose(averages, printed[["precision", "recall", "f1"]].astype(float), atol=0.0006):
            fits.append((healthy, diseased))
    assert fits == [(112, 480)]
    assert printed["correct"] / printed["total"] == pytest.approx(printed["accuracy"], abs=0.0005)


def test_best_configurations_and_the_long_form():
    best = best_configurations().set_index("dataset")
    assert best.loc["covid19", ["model", "batch_size", "learning_rate", "augment", "fine_tune"]].tolist() == [
        "vgg16", 64, 0.001, False, True]
    assert best.loc["retina", ["fine_tune", "correct", "accuracy"]].tolist() == [False, 593, 0.927]
    results = load_published_results()
    assert not results.duplicated(["dataset", "backbone", "batch_size", "learning_rate", "augment", "fine_tune",
                                   "class_name", "metric"]).any()
    accuracy = results[(results["metric"] == "accuracy") & (results["dataset"] == "covid19")
                       & (results["backbone"] == "resnet50") & (results["batch_size"] == 256)].iloc[0]
    assert accuracy["value"] == 0.975 and "0.982" in accuracy["note"] and accuracy["table"] == "B.2"
    assert results.loc[results["best"] & (results["metric"] == "accuracy"), "value"].tolist() == [0.946, 0.988, 0.927]
    assert load_published_results(corrected=False).query("metric == 'accuracy' and value == 0.982").shape[0] >= 1


def test_published_table_quotes_the_winning_configuration_per_class():
    table = published_table("covid19")
    assert table.index.tolist() == ["normal", "viral_pneumonia", "covid", "average"]
    assert table.loc["normal", ["correct", "total"]].tolist() == [2010, 2022]
    assert "VGG-16, batch 64" in table.attrs["caption"] and "Tabla B.6" in table.attrs["caption"]
    assert published_table("brain_tumor").loc["glioma", "precision"] == 0.972
    with pytest.raises(DataError, match="skin"):
        published_table("skin")


def test_the_learning_rate_of_1e_1_collapses_to_the_majority_class():
    tables = load_study_tables(corrected=True)
    subsets = load_study_subsets(corrected=True).query("subset == 'test' and class_name != 'total'")
    collapsed = tables[(tables["table"] == "B.4") & (tables["learning_rate"] == 0.1)].set_index("dataset")
    majority = subsets.groupby("dataset")["images"].max()
    # brain: every slice called glioma (255 of 459); retina: every image called diseased (506 of 640)
    assert collapsed.loc["brain_tumor", "correct"] == majority["brain_tumor"] == 255
    assert collapsed.loc["retina", "correct"] == majority["retina"] == 506
    assert collapsed.loc["brain_tumor", "accuracy"] == 0.556


def test_wilson_interval():
    low, high = wilson_interval(correct=426, total=459)
    assert low < 426 / 459 < high and high - low == pytest.approx(0.0476, abs=0.001)
    # stages 2 and 4 on the brain test set: 426 and 434 of 459 lie inside each other's interval
    low4, high4 = wilson_interval(correct=434, total=459)
    assert low4 < 426 / 459 < high4 and low < 434 / 459 < high
    assert wilson_interval(correct=0, total=10)[0] == 0.0 and wilson_interval(correct=10, total=10)[1] == 1.0
    with pytest.raises(DataError, match="total"):
        wilson_interval(correct=1, total=0)
    with pytest.raises(DataError, match="correct"):
        wilson_interval(correct=11, total=10)


def test_a_wrong_misprint_entry_is_a_clear_error(tmp_path):
    import shutil

    from medcnn.experiments.published import PUBLISHED_DIR

    for path in PUBLISHED_DIR.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    misprints = pd.read_csv(tmp_path / "misprints.csv", dtype=str, keep_default_na=False)
    misprints.loc[misprints["table"] == "B.3", "printed"] = "541"
    misprints.to_csv(tmp_path / "misprints.csv", index=False)
    with pytest.raises(DataError, match="541.*results.csv has 540"):
        load_study_tables(tmp_path, corrected=True)


def test_published_layouts_and_charts():
    from medcnn.experiments import published_table as quoted
    from medcnn.experiments.published_charts import (
        majority_baseline,
        plot_published_batch_size,
        plot_published_learning_rate,
        plot_published_per_class,
        published_layout,
    )

    assert quoted(dataset="retina").equals(published_table("retina"))
    layout = published_layout("B.3")
    assert layout.loc[("inceptionv3", 256), "total"] == 640  # printed 540
    assert (layout["95% low"] < layout["accuracy"]).all() and (layout["accuracy"] < layout["95% high"]).all()
    # the study's test sets: always answering the largest class scores 55.6 % on brain, 66.7 % on COVID-19
    assert round(majority_baseline("brain_tumor")["accuracy"], 3) == 0.556
    assert majority_baseline("covid19")["class_name"] == "normal"
    assert round(majority_baseline("retina")["accuracy"], 3) == 0.791
    assert len(plot_published_batch_size("covid19").axes[0].patches) == 12
    assert len(plot_published_learning_rate().axes) == 3
    assert len(plot_published_per_class("brain_tumor", change="fine_tune").axes[0].patches) == 8
    # honest axes: every chart of a share starts at 0, and its legend sits outside the axes (never over a bar)
    for figure in (plot_published_batch_size("retina"), plot_published_learning_rate(),
                   plot_published_per_class("covid19", change="augment")):
        assert all(axes.get_ylim()[0] == 0.0 and axes.get_legend() is None for axes in figure.axes)
        assert len(figure.legends) == 1 and "from 0" in figure._suptitle.get_text()
    # series differ by hatch as well as colour
    hatches = {patch.get_hatch() for patch in plot_published_batch_size("retina").axes[0].patches}
    assert len(hatches) == 3
    with pytest.raises(DataError, match="B.9"):
        published_layout("B.9")
    with pytest.raises(DataError, match="augment"):
        plot_published_per_class("retina", change="dropout")


def test_related_work_cites_the_studys_papers():
    from medcnn.related_work import load_related_work

    rows = load_related_work().set_index("key")
    assert "ultrasound" in rows.loc["wang2020", "data"] and "0.919" in rows.loc["wang2020", "result"]
    assert "leukaemia" in rows.loc["tran2018", "task"] and "96.6%" in rows.loc["tran2018", "result"]
    assert "88.8%" in rows.loc["tran2018", "result"] and "108" in rows.loc["tran2018", "data"]
    assert "97.01% (65 of 67" in rows.loc["cinar2020", "result"] and "253" in rows.loc["cinar2020", "data"]
    assert "75.68%" in rows.loc["araujo2017", "result"] and "77.8%" in rows.loc["araujo2017", "result"]
    assert "85.3%" in rows.loc["booKyeong2020", "result"]
    assert rows.loc["litjens2017", "group"] == "previous work"
    bibliography = (Path(__file__).resolve().parent.parent / "references.bib").read_text(encoding="utf-8")
    for key in ("wang2020", "tran2018", "booKyeong2020", "litjens2017", "study"):
        assert f"{{{key}," in bibliography, key
    assert "COVID-Net" not in bibliography and "Segmentation" not in bibliography
