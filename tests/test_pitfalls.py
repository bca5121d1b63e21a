"""The pitfall labs' effects, measured at tiny scale with fixed seeds."""

import numpy as np
import pytest

from medcnn.errors import ConfigError
from medcnn.pitfalls.leakage import make_leakage_data, run_split
from medcnn.pitfalls.models import accuracy
from medcnn.pitfalls.shortcut import make_shortcut_data, run_shortcut_experiment


def test_shortcut_data_plants_the_marker_as_asked():
    correlated = make_shortcut_data(400, marker_rate=0.9, seed=0)
    assert correlated.has_marker[correlated.labels == 1].mean() > 0.85
    assert correlated.has_marker[correlated.labels == 0].mean() < 0.15
    uncorrelated = make_shortcut_data(400, marker_rate=0.5, seed=1)
    rates = [uncorrelated.has_marker[uncorrelated.labels == label].mean() for label in (0, 1)]
    assert abs(rates[0] - rates[1]) < 0.15
    removed = make_shortcut_data(20, marker_rate=None, seed=2)
    assert not removed.has_marker.any()
    top, left = 2, 2
    marked = correlated.images[correlated.has_marker]
    assert (marked[:, top + 5, left : left + 5, 0] > 0.9).all()  # the L's foot is bright
    np.testing.assert_array_equal(make_shortcut_data(6, seed=3).images, make_shortcut_data(6, seed=3).images)
    with pytest.raises(ConfigError, match="marker_rate=1.5"):
        make_shortcut_data(4, marker_rate=1.5)


def test_shortcut_costs_accuracy_on_uncorrelated_test():
    result = run_shortcut_experiment(training_count=300, test_count=160, epochs=15, seed=0)
    assert result.validation_accuracy > 0.8
    assert result.gap >= 0.2, (result.validation_accuracy, result.uncorrelated_accuracy)


def test_leakage_data_keeps_one_class_per_patient():
    data = make_leakage_data(patients_per_class=3, slices_per_patient=4, seed=0)
    assert data.images.shape == (36, 32, 32, 1)
    assert data.index.groupby("patient_id")["label"].nunique().eq(1).all()
    assert data.index["label"].value_counts().tolist() == [12, 12, 12]


def test_slice_split_leaks_patients():
    # Gaps over seeds 0-2 at this scale: 0.39, 0.31, 0.80 (threshold 0.1).
    data = make_leakage_data(patients_per_class=6, slices_per_patient=12, tumour_contrast=0.2, seed=0)
    by_slice = run_split(data, strategy="stratified", epochs=15, seed=0)
    by_patient = run_split(data, strategy="grouped", epochs=15, seed=0)
    assert by_slice.shared_patients > 0 and by_patient.shared_patients == 0
    assert by_slice.accuracy - by_patient.accuracy >= 0.1, (by_slice.accuracy, by_patient.accuracy)
    with pytest.raises(ConfigError, match="strategy='random'"):
        run_split(data, strategy="random")


def test_accuracy_counts_the_most_probable_class():
    assert accuracy(np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]), [0, 1, 1]) == 2 / 3
    with pytest.raises(ConfigError, match="one row of class probabilities per label"):
        accuracy(np.zeros((3, 2)), [0, 1])
