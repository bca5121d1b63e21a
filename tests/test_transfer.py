"""The transfer lesson's effect, measured: pretrained features beat training from scratch with few labels.

One computation is shared by the effect tests (a module-scoped fixture): three
seeds, N = 5 and 200 images per class, from scratch, frozen pretrained features
with a new head, and frozen features pretrained on an unrelated source. Margins were set from runs over seeds 0-4 (see the
comments); the fixture prints its seconds.
"""

import time

import numpy as np
import pytest

from medcnn.errors import ConfigError, DataError
from medcnn.transfer.few_labels import first_per_class, paired_gap, summarise, t_interval, training_order
from medcnn.transfer.lesions import CLASS_NAMES, make_lesion_data
from medcnn.transfer.pretrained import load_backbone, load_record, weights_path
from medcnn.transfer.sources import SHAPE_CLASSES, make_source_data


def test_source_tasks_are_seeded_and_balanced():
    shapes = make_source_data(240, kind="shapes", seed=0)
    assert len(SHAPE_CLASSES) == 24 and shapes.images.shape == (240, 32, 32, 1)
    assert np.bincount(shapes.labels).tolist() == [10] * 24
    assert 0.0 <= shapes.images.min() and shapes.images.max() <= 1.0
    np.testing.assert_array_equal(make_source_data(24, seed=3).images, make_source_data(24, seed=3).images)
    with pytest.raises(ConfigError, match="kind='imagenet'"):
        make_source_data(10, kind="imagenet")


def test_lesion_slices_differ_by_class_where_the_lesion_is():
    data = make_lesion_data(40, seed=0)
    assert data.class_names == CLASS_NAMES and np.bincount(data.labels).tolist() == [40] * 4
    # a lesion adds local contrast: the brightest pixel inside the head is higher than without one
    peaks = [np.percentile(data.images[data.labels == label], 99.5) for label in range(4)]
    assert peaks[1] > peaks[0]
    with pytest.raises(ConfigError, match="per_class=0"):
        make_lesion_data(0)


def test_shipped_weights_load_with_their_record():
    for kind in ("shapes", "ramps"):
        record = load_record(kind)
        assert record["training_count"] >= 10_000 and len(record["classes"]) == 24
        assert record["held_out_accuracy"] > 0.8, record["held_out_accuracy"]
        assert record["command"] == f"python -m medcnn.transfer.pretrained --kind {kind} --seed {record['seed']}"
        assert weights_path(kind).stat().st_size < 1_000_000  # a few hundred KB ship with the package
    backbone, record = load_backbone("shapes")
    assert [layer.name for layer in backbone.layers[1:]] == ["lower", "upper"]
    assert backbone.count_params() == record["parameters"]
    with pytest.raises(DataError, match="re-create"):
        load_record("shapes", folder="/nonexistent")


def test_training_plan_helpers():
    assert first_per_class(np.array([0, 1, 1, 0, 2, 2, 0]), 2).tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ConfigError, match="fewer images"):
        first_per_class(np.array([0, 1, 1]), 2)
    order = training_order(20, 5, batch_size=32, seed=0)
    assert len(order) == 160 and np.bincount(order, minlength=20).min() == 8
    mean, low, high = t_interval([0.5, 0.6, 0.7])
    assert low < mean < high and round(mean, 6) == 0.6


@pytest.fixture(scope="module")
def few_label_runs():
    from medcnn.transfer.few_labels import run_experiment

    started = time.perf_counter()
    frame = run_experiment(variants=("scratch", "frozen", "frozen, unrelated source"), per_class=(5, 200),
                           seeds=(0, 1, 2))
    print(f"\nfew-label runs (3 variants, N = 5 and 200, 3 seeds): {time.perf_counter() - started:.0f} s")
    return frame


def test_pretrained_features_beat_scratch_with_five_labels_per_class(few_label_runs):
    # Over seeds 0-4 (the lesson page's run): frozen - scratch at N = 5 was 0.29, 0.31, 0.29, 0.32, 0.30;
    # the margin is half the lowest.
    gaps = paired_gap(few_label_runs, "frozen", "scratch")
    per_seed = few_label_runs.pivot_table(index=["per_class", "seed"], columns="variant", values="accuracy")
    small = per_seed.loc[5]
    assert (small["frozen"] - small["scratch"] >= 0.15).all(), small
    assert gaps.loc[5, "low"] > 0, gaps


def test_the_gap_shrinks_as_labels_grow(few_label_runs):
    # Over seeds 0-4: the mean gap was 0.30 at N = 5 and -0.06 at N = 200 (scratch 0.45 -> 0.96).
    gaps = paired_gap(few_label_runs, "frozen", "scratch")
    assert gaps.loc[200, "mean"] < gaps.loc[5, "mean"] - 0.2, gaps
    assert gaps.loc[200, "mean"] < 0.03, gaps  # scratch has caught up
    summary = summarise(few_label_runs)
    assert summary.loc[("scratch", 200), "mean"] > summary.loc[("scratch", 5), "mean"] + 0.3, summary


def test_an_unrelated_source_transfers_less(few_label_runs):
    # Over seeds 0-4 at N = 5: shapes source 0.69-0.79, brightness-ramps source 0.26-0.33.
    per_seed = few_label_runs.pivot_table(index=["per_class", "seed"], columns="variant", values="accuracy")
    small = per_seed.loc[5]
    assert (small["frozen"] - small["frozen, unrelated source"] >= 0.2).all(), small
