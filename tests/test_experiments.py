"""The study runner: stages, winners, resume, interrupted runs, shards and merging, published figures, reports."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest

from medcnn.errors import ConfigError, DataError
from medcnn.experiments.published import (
    load_dataset_counts,
    load_misprints,
    load_parameter_counts,
    load_published_results,
)
from medcnn.experiments.report import (
    compare_best,
    markdown,
    plot_metric_by_batch_size,
    plot_metric_by_learning_rate,
    side_by_side,
    stage_results,
    study_layout,
)
from medcnn.experiments.results import CONFIG_COLUMNS, METRIC_COLUMNS, config_id, make_row, read_results
from medcnn.experiments.runner import StudyData, run_study
from medcnn.experiments.select import select_winner
from medcnn.experiments.shard import merge_into, merge_tables, parse_shard, shard_items
from medcnn.experiments.stages import STUDY_STAGES, StudySettings, get_stage, stage_configs

# A study small enough for a test: one backbone, two batch sizes, two learning rates, 1 epoch, 32 px.
TINY_STAGES = (
    dataclasses.replace(STUDY_STAGES[0], backbones=("vgg16",), batch_sizes=(4, 8)),
    dataclasses.replace(STUDY_STAGES[1], learning_rates=(1e-2, 1e-3)),
    STUDY_STAGES[2],
    STUDY_STAGES[3],
)
TINY = StudySettings(epochs=1, image_size=32, fine_tune_epochs=1)


@pytest.fixture(scope="module")
def retina_data(tmp_path_factory):
    from medcnn.datasets import get_dataset
    from medcnn.data import load_index

    root = get_dataset("retina").write_synthetic(tmp_path_factory.mktemp("data") / "retina", per_class=4, seed=0)
    return {"retina": StudyData(dataset="retina", root=root, index=load_index("retina", root))}


@pytest.fixture(scope="module")
def tiny_study(retina_data, tmp_path_factory):
    """Stages 1 and 2 of the tiny study on synthetic retina images (3 runs: 2 batch sizes, then 1e-2)."""
    out = tmp_path_factory.mktemp("study")
    summary = run_study(datasets=["retina"], stages=[1, 2], out=out, settings=TINY, prepared=retina_data,
                        stage_definitions=TINY_STAGES, log=None)
    return out, summary


def _table(path):
    return read_results(path).sort_values("config_id").reset_index(drop=True)


# ---- stages as data ---------------------------------------------------------------------------


def test_stages_ask_for_the_studys_runs():
    settings = StudySettings()
    first = stage_configs(get_stage(1), "brain_tumor", settings=settings)
    assert len(first) == 12 and len({config_id(config) for config in first}) == 12
    assert {config.learning_rate for config in first} == {1e-3}
    winner = first[5]  # resnet50, batch 64
    second = stage_configs(get_stage(2), "brain_tumor", settings=settings, start=winner)
    assert [config.learning_rate for config in second] == [1e-1, 1e-2, 1e-3, 1e-4, 1e-5]
    assert {(config.backbone, config.batch_size) for config in second} == {("resnet50", 64)}
    # the stage-2 run at 1e-3 is the stage-1 winner itself: same id, run once
    assert config_id(second[2]) == config_id(winner)
    third = stage_configs(get_stage(3), "brain_tumor", settings=settings, start=second[3])
    fourth = stage_configs(get_stage(4), "brain_tumor", settings=settings, start=second[3])
    assert [(c.augment, c.fine_tune, c.learning_rate) for c in third + fourth] == [(True, False, 1e-4), (False, True, 1e-4)]
    seeded = stage_configs(get_stage(1), "retina", settings=StudySettings(seeds=(0, 1, 2)))
    assert len(seeded) == 36 and sorted({config.seed for config in seeded}) == [0, 1, 2]
    with pytest.raises(ConfigError, match="starts from the winner"):
        stage_configs(get_stage(2), "retina", settings=settings)


# ---- winners ----------------------------------------------------------------------------------


def test_winner_has_most_correct_then_best_macro_f1_then_comes_first():
    rows = pd.DataFrame({
        "setting_id": ["a", "b", "c", "d"], "status": "completed",
        "correct": [90, 95, 95, 94], "f1_macro": [0.99, 0.90, 0.92, 0.99],
    })  # fmt: skip
    assert select_winner(rows, select_on="test")["setting_id"] == "c"  # 95 correct twice: macro F1 decides
    tied = rows.assign(f1_macro=[0.99, 0.92, 0.92, 0.99])
    assert select_winner(tied, select_on="test")["setting_id"] == "b"  # tied on both: the stage's first wins
    assert select_winner(tied.iloc[[2, 1, 0, 3]], select_on="test")["setting_id"] == "c"


def test_winner_over_seeds_uses_means_and_counts_diverged_runs_as_zero():
    rows = pd.DataFrame({
        "setting_id": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1],
        "status": ["completed", "completed", "completed", "diverged"],
        "correct": [80, 82, 99, None], "f1_macro": [0.8, 0.8, 0.99, None],
    })  # fmt: skip
    assert select_winner(rows, select_on="test")["setting_id"] == "a"  # b: (99 + 0) / 2 < 81
    with pytest.raises(DataError, match="diverged"):
        select_winner(rows[rows["status"] == "diverged"], select_on="test")


# ---- running, resuming, interruptions --------------------------------------------------------------


def test_study_runs_each_configuration_once_and_reuses_backbone_features(tiny_study):
    out, summary = tiny_study
    table = read_results(out)
    assert len(summary.ran) == 3 and len(table) == 3
    assert len(summary.skipped) == 1  # stage 2's 1e-3 run is stage 1's winner, already in the table
    assert set(table["status"]) == {"completed"}
    assert set(table["training_path"]) == {"cached_features"}
    for column in ("accuracy", "f1_macro", "correct", "accuracy_low", "accuracy_high", "class.healthy.recall"):
        assert table[column].notna().all(), column
    assert (table["correct"] + table["incorrect"] == table["total"]).all()
    # frozen backbone, same dataset, backbone, size and seed: features computed once, for every run
    features = sorted(path.name.split("-")[0] for path in (out / "runs" / "feature_cache").glob("*.npy"))
    assert features == ["train", "validation"]
    # run folders are kept, their large model files are not
    for run in table["run_dir"]:
        assert (out / run / "metrics.json").is_file()
        assert not list((out / run).glob("*.keras"))


def test_second_invocation_does_nothing(tiny_study, retina_data):
    out, _ = tiny_study
    before = (out / "results.csv").read_bytes()
    again = run_study(datasets=["retina"], stages=[1, 2], out=out, settings=TINY, prepared=retina_data,
                      stage_definitions=TINY_STAGES, log=None)
    assert again.ran == [] and len(again.skipped) == 4
    assert (out / "results.csv").read_bytes() == before


def test_interrupted_run_leaves_no_row_and_is_redone(retina_data, tmp_path, monkeypatch):
    from medcnn.training import fit

    stages = (dataclasses.replace(TINY_STAGES[0], batch_sizes=(8,)),)

    def fail_in_training(*args, **kwargs):
        raise RuntimeError("power cut while training")

    with monkeypatch.context() as patched:
        # the run has split, cached its images and written its config when training fails
        patched.setattr(fit, "train_classifier", fail_in_training)
        with pytest.raises(RuntimeError, match="power cut"):
            run_study(datasets=["retina"], stages=1, out=tmp_path, settings=TINY, prepared=retina_data,
                      stage_definitions=stages, log=None)
    assert len(read_results(tmp_path)) == 0
    (run_dir,) = list((tmp_path / "runs").iterdir())
    assert (run_dir / "config.json").is_file() and not (run_dir / "metrics.json").exists()
    (run_dir / "left-by-the-interrupted-run.txt").write_text("stale")

    summary = run_study(datasets=["retina"], stages=1, out=tmp_path, settings=TINY, prepared=retina_data,
                        stage_definitions=stages, log=None)
    assert summary.ran == [run_dir.name]
    table = read_results(tmp_path)
    assert table["config_id"].tolist() == [run_dir.name] and table["status"].tolist() == ["completed"]
    assert (run_dir / "metrics.json").is_file()
    assert not (run_dir / "left-by-the-interrupted-run.txt").exists()


def test_later_stage_needs_the_earlier_one_complete(retina_data, tmp_path):
    with pytest.raises(DataError, match=r"only 0 of its 2 runs"):
        run_study(datasets=["retina"], stages=2, out=tmp_path, settings=TINY, prepared=retina_data,
                  stage_definitions=TINY_STAGES, log=None)
    with pytest.raises(ConfigError, match="a shard runs one stage"):
        run_study(datasets=["retina"], stages="all", out=tmp_path, shard=(1, 2), settings=TINY,
                  prepared=retina_data, stage_definitions=TINY_STAGES, log=None)


# ---- shards and merging ---------------------------------------------------------------------------


def test_shards_split_deterministically():
    assert parse_shard("3/4") == (3, 4)
    items = list(range(12))
    parts = [shard_items(items, index=index, count=5) for index in range(1, 6)]
    assert sorted(sum(parts, [])) == items and max(map(len, parts)) - min(map(len, parts)) <= 1
    for text in ("0/2", "3/2", "a/b", "2"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(text)


def test_two_shards_merged_equal_one_unsharded_run(tiny_study, retina_data, tmp_path):
    out, _ = tiny_study
    shards = []
    for index in (1, 2):
        folder = tmp_path / f"shard{index}"
        summary = run_study(datasets=["retina"], stages=1, out=folder, shard=(index, 2), settings=TINY,
                            prepared=retina_data, stage_definitions=TINY_STAGES, log=None)
        assert len(summary.ran) == 1
        shards.append(folder / "results.csv")
    merge_into(tmp_path / "merged", shards)
    merged = _table(tmp_path / "merged")
    unsharded = read_results(out)
    unsharded = unsharded[unsharded["stage"] == 1].sort_values("config_id").reset_index(drop=True)
    compared = [*CONFIG_COLUMNS, "config_id", "status", *METRIC_COLUMNS, "epochs_run"]
    pd.testing.assert_frame_equal(merged[compared], unsharded[compared], check_dtype=False)
    # stage 2 runs on the merged table
    summary = run_study(datasets=["retina"], stages=2, out=tmp_path / "merged", settings=TINY,
                        prepared=retina_data, stage_definitions=TINY_STAGES, log=None)
    assert len(summary.ran) == 1


def _fake_row(config, *, stage=1, correct=8, total=10, f1=0.8, **run):
    metrics = {"accuracy": correct / total, "correct": correct, "incorrect": total - correct, "total": total,
               "f1_macro": f1, "precision_macro": f1, "recall_macro": f1,
               "val_accuracy": correct / total, "val_loss": 1 - f1,
               "confidence_intervals": {"accuracy": {"low": 0.5, "high": 0.95}}}
    run = {"epochs_run": 3, "device": "cpu", **run}
    return make_row(config, stage=stage, metrics=metrics, **run)


def test_merge_keeps_agreeing_duplicates_and_refuses_conflicting_ones(tmp_path):
    first = TINY.config(dataset="retina", backbone="vgg16", batch_size=4)
    second = TINY.config(dataset="retina", backbone="vgg16", batch_size=8)
    left = pd.DataFrame([_fake_row(first), _fake_row(second)])
    right = pd.DataFrame([_fake_row(first, wall_seconds=99.0, device="gpu: H100")])  # bookkeeping differs only
    assert len(merge_tables([left, right])) == 2
    conflicting = pd.DataFrame([_fake_row(first, correct=9)])
    with pytest.raises(DataError, match=config_id(first) + ".*different results.*correct"):
        merge_tables([left, conflicting], names=["shard1/results.csv", "shard2/results.csv"])
    left.to_csv(tmp_path / "a.csv", index=False)
    conflicting.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(DataError, match="b.csv"):
        merge_into(tmp_path / "merged", [tmp_path / "a.csv", tmp_path / "b.csv"])
    assert not (tmp_path / "merged" / "results.csv").exists()


# ---- the published figures --------------------------------------------------------------------------


def test_published_csvs_load_with_their_sources():
    results = load_published_results()
    best = results[results["best"] & (results["metric"] == "accuracy")].set_index("dataset")
    assert best.loc["brain_tumor", ["backbone", "batch_size", "fine_tune", "value"]].tolist() == ["resnet50", 256, True, 0.946]
    assert best.loc["covid19", ["backbone", "batch_size", "fine_tune", "value"]].tolist() == ["vgg16", 64, True, 0.988]
    assert best.loc["retina", ["backbone", "batch_size", "fine_tune", "value"]].tolist() == ["vgg16", 256, False, 0.927]
    assert results["source"].str.startswith("Tabla ").all()
    counts = load_parameter_counts().set_index("backbone")
    assert counts.loc["inceptionv3", ["total_parameters", "trainable_parameters"]].tolist() == [156024611, 134221827]
    images = load_dataset_counts().groupby("dataset")["images"].sum().to_dict()
    assert images == {"brain_tumor": 3064, "covid19": 15153, "retina": 3200}
    misprints = load_misprints()
    assert ["3200", "1920"] in misprints[["printed", "consistent"]].values.tolist()


def test_a_malformed_published_table_is_a_clear_error(tmp_path):
    import shutil

    from medcnn.experiments.published import PUBLISHED_DIR

    for path in PUBLISHED_DIR.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    assert len(load_published_results(tmp_path)) == len(load_published_results())
    text = (tmp_path / "results.csv").read_text().replace("0.893,0.922", "0,893,0.922", 1)
    (tmp_path / "results.csv").write_text(text)
    with pytest.raises(DataError, match="results.csv"):
        load_published_results(tmp_path)


# ---- reports ------------------------------------------------------------------------------------------


@pytest.fixture
def covid_results():
    """A whole study on covid19 in the study's shape (made-up numbers), two seeds: VGG-16 batch 64 wins."""
    settings = StudySettings(seeds=(0, 1))
    rows = []
    first = stage_configs(get_stage(1), "covid19", settings=settings)
    for config in first:
        best = (config.backbone, config.batch_size) == ("vgg16", 64)
        rows.append(_fake_row(config, stage=1, correct=(95 if best else 80) + config.seed, total=100, f1=0.9))
    winner = first[2]
    for config in stage_configs(get_stage(2), "covid19", settings=settings, start=winner):
        if config.learning_rate != 1e-3:
            rows.append(_fake_row(config, stage=2, correct=70 + config.seed, total=100, f1=0.7))
    for number, correct in ((3, 90), (4, 98)):
        for config in stage_configs(get_stage(number), "covid19", settings=settings, start=winner):
            rows.append(_fake_row(config, stage=number, correct=correct + config.seed, total=100, f1=0.95))
    return pd.DataFrame(rows)


def test_report_renders_the_studys_layouts(covid_results):
    first = study_layout(stage_results(covid_results, stage=1, dataset="covid19"), stage=1)
    assert first.index.names == ["model", "batch size"] and len(first) == 12
    assert list(first.columns[:3]) == ["precision", "precision std", "recall"]
    assert first.loc[("VGG-16", 64), "correct"] == 95.5 and first.loc[("VGG-16", 64), "seeds"] == 2
    second = study_layout(stage_results(covid_results, stage=2, dataset="covid19"), stage=2)
    assert second.index.tolist() == ["0.1", "0.01", "0.001", "0.0001", "1e-05"]
    assert second.loc["0.001", "correct"] == 95.5  # the stage-1 winner's own rows
    fourth = study_layout(stage_results(covid_results, stage=4, dataset="covid19"), stage=4)
    assert fourth.index.tolist() == ["without", "with"] and fourth.loc["with", "accuracy"] == pytest.approx(0.985)
    text = markdown(first)
    assert text.splitlines()[0].startswith("| model | batch size | precision | recall | F1 | accuracy | correct |")
    assert "| VGG-16 | 64 |" in text and "0.955 ± 0.007" in text


def test_side_by_side_fills_the_difference_only_where_the_study_published(covid_results):
    table = side_by_side(covid_results)
    compared = table[table["published"].notna() & table["reproduced"].notna()]
    final = compared[(compared["backbone"] == "vgg16") & (compared["batch_size"] == 64) & compared["fine_tune"]
                     & (compared["metric"] == "accuracy") & (compared["class_name"] == "")]
    assert len(final) == 1
    row = final.iloc[0]
    assert row["published"] == 0.988 and row["difference"] == pytest.approx(0.985 - 0.988)
    assert row["table"] == "B.6" and row["source"] == "Tabla B.6" and row["seeds"] == 2
    # every stage-1 setting is compared with its Tabla B.2 figure
    first = compared[(compared["metric"] == "accuracy") & ~compared["fine_tune"] & ~compared["augment"]
                     & (compared["learning_rate"] == 0.001)]
    assert len(first) == 12 and set(first["table"]) == {"B.2", "B.6"}  # the winner, from its annex row
    assert table.loc[table["published"].isna(), "difference"].isna().all()
    # published figures without a reproduction are listed, their reproduction and difference empty
    missing = table[table["reproduced"].isna()]
    assert {"brain_tumor", "retina"} <= set(missing["dataset"]) and missing["difference"].isna().all()
    assert "difference" in markdown(table).splitlines()[0]
    best = compare_best(covid_results)
    assert best.loc["covid19", "same configuration"] == True  # noqa: E712 (a numpy bool)
    assert best.loc["covid19", "difference"] == pytest.approx(0.985 - 0.988)
    assert pd.isna(best.loc["retina", "reproduced accuracy"])


def test_bar_charts_show_every_setting(covid_results):
    figure = plot_metric_by_batch_size(covid_results, dataset="covid19", note="SMOKE RUN")
    axes = figure.axes[0]
    assert len(axes.patches) == 12 and axes.get_xlabel() == "batch size"
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["published", "VGG-16", "ResNet-50", "Inception-V3"]  # the study's figures as marks
    figure = plot_metric_by_learning_rate(covid_results, dataset="covid19", metric="f1_macro")
    assert len(figure.axes[0].patches) == 5
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    assert heights == pytest.approx([0.7, 0.7, 0.9, 0.7, 0.7])
    with pytest.raises(DataError, match="stage-1"):
        plot_metric_by_batch_size(covid_results, dataset="retina")


def test_command_line_registers_both_commands_and_reports_errors(tmp_path, capsys):
    from medcnn.cli import main

    status = main(["study", "--dataset", "retina", "--stage", "2", "--out", str(tmp_path), "--data-dir", str(tmp_path)])
    assert status == 3  # DataError
    assert "run `study --stage 1` first" in capsys.readouterr().err
    first = TINY.config(dataset="retina", backbone="vgg16", batch_size=4)
    pd.DataFrame([_fake_row(first)]).to_csv(tmp_path / "a.csv", index=False)
    assert main(["study-merge", "--out", str(tmp_path / "all"), str(tmp_path / "a.csv")]) == 0
    assert read_results(tmp_path / "all")["config_id"].tolist() == [config_id(first)]
    assert np.isclose(read_results(tmp_path / "all")["accuracy"].iloc[0], 0.8)


def test_data_parallel_spreads_over_the_devices_jax_offers():
    import subprocess
    import sys

    pytest.importorskip("jax")
    script = (
        "from medcnn.experiments.parallel import configure_data_parallel, check_batch_size\n"
        "print(configure_data_parallel('auto')[0])\n"
        "devices, reason = configure_data_parallel('on')\n"
        "import keras\n"
        "print(devices, type(keras.distribution.distribution()).__name__)\n"
        "check_batch_size(64, devices)\n"
    )
    environment = {**os.environ, "KERAS_BACKEND": "jax",
                   "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1", "2", "DataParallel"]
    from medcnn.experiments.parallel import check_batch_size

    with pytest.raises(ConfigError, match="multiple of 4"):
        check_batch_size(66, 4)
