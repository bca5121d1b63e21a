"""The course's palette (medcnn.evaluation.palette) under simulated colour-vision deficiency,
and the figures that use it: no chart lets colour alone tell two things apart.

The simulation is colorspacious's (Machado, Oliveira and Fernandes 2009) at severity 100,
i.e. deuteranopia, protanopia and tritanopia; distances are CAM02-UCS ΔE (about 1 is
the smallest difference people see side by side; 10 or more is clear at a glance in a legend).
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import itertools

import matplotlib
import numpy as np
import pandas
import pytest

from medcnn.evaluation import palette
from medcnn.evaluation.figures import plot_class_counts, plot_learning_curves, plot_prediction_grid, plot_roc_curves
from medcnn.evaluation.grad_cam_figure import plot_heatmaps

DEFICIENCIES = ("deuteranomaly", "protanomaly", "tritanomaly")
MIN_SERIES_DISTANCE = {"normal": 20.0, "deuteranomaly": 10.0, "protanomaly": 10.0, "tritanomaly": 10.0}
MIN_RIGHT_WRONG_DISTANCE = 30.0


def _rgb(colour) -> np.ndarray:
    return np.asarray(matplotlib.colors.to_rgb(colour), dtype=np.float64)


def _seen(rgb: np.ndarray, condition: str) -> np.ndarray:
    """Colours (sRGB 0-1, last axis) as someone with ``condition`` sees them."""
    if condition == "normal":
        return rgb
    from colorspacious import cspace_convert

    simulation = {"name": "sRGB1+CVD", "cvd_type": condition, "severity": 100}
    return np.clip(cspace_convert(rgb, simulation, "sRGB1"), 0.0, 1.0)


def _distance(first, second, condition: str) -> float:
    from colorspacious import deltaE

    return float(deltaE(_seen(_rgb(first), condition), _seen(_rgb(second), condition), input_space="sRGB1"))


def _contrast_on_white(colour) -> float:
    """WCAG 2.1 contrast ratio of ``colour`` against white."""
    linear = np.where(_rgb(colour) <= 0.04045, _rgb(colour) / 12.92, ((_rgb(colour) + 0.055) / 1.055) ** 2.4)
    luminance = float(linear @ [0.2126, 0.7152, 0.0722])
    return 1.05 / (luminance + 0.05)


@pytest.fixture(scope="module", autouse=True)
def _colorspacious():
    pytest.importorskip("colorspacious", reason="colorspacious is pinned in requirements.txt: pip install -r requirements.txt")


@pytest.mark.parametrize("condition", ["normal", *DEFICIENCIES])
def test_series_colours_stay_apart_under_colour_vision_deficiency(condition):
    close = {
        (first, second): round(_distance(first, second, condition), 1)
        for first, second in itertools.combinations(palette.SERIES_COLOURS, 2)
        if _distance(first, second, condition) < MIN_SERIES_DISTANCE[condition]
    }
    assert close == {}, f"series colours too close for {condition} (ΔE < {MIN_SERIES_DISTANCE[condition]}): {close}"
    right_wrong = _distance(palette.RIGHT_COLOUR, palette.WRONG_COLOUR, condition)
    assert right_wrong >= MIN_RIGHT_WRONG_DISTANCE, f"right and wrong differ by ΔE {right_wrong:.1f} for {condition}"


def test_colours_have_wcag_contrast_on_white():
    # graphical objects need 3:1 (WCAG 1.4.11); the right/wrong captions are small text, 4.5:1 (1.4.3)
    low = {colour: round(_contrast_on_white(colour), 2) for colour in palette.SERIES_COLOURS if _contrast_on_white(colour) < 3.0}
    assert low == {}, f"series colours under 3:1 on white: {low}"
    for colour in (palette.RIGHT_COLOUR, palette.WRONG_COLOUR, palette.REFERENCE_COLOUR):
        assert _contrast_on_white(colour) >= 4.5, f"{colour}: {_contrast_on_white(colour):.2f}:1 on white, under 4.5:1"


@pytest.mark.parametrize("name", [palette.HEATMAP_COLOUR_MAP, palette.SEQUENTIAL_COLOUR_MAP])
def test_colour_maps_change_lightness_in_one_direction_for_everyone(name):
    from colorspacious import cspace_convert

    rgb = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 64))[:, :3]
    for condition in ("normal", *DEFICIENCIES):
        lightness = cspace_convert(_seen(rgb, condition), "sRGB1", "CAM02-UCS")[:, 0]
        steps = np.diff(lightness)
        assert (steps > 0).all() or (steps < 0).all(), f"{name}: lightness turns back for {condition}: a value reads two ways"
        assert abs(lightness[-1] - lightness[0]) >= 50, f"{name}: lightness spans only {abs(lightness[-1] - lightness[0]):.0f} for {condition}"


def test_the_rainbow_map_would_fail_the_same_check():
    # the check has teeth: jet, the usual Grad-CAM colour map, goes light-dark-light
    from colorspacious import cspace_convert

    lightness = cspace_convert(matplotlib.colormaps["jet"](np.linspace(0.0, 1.0, 64))[:, :3], "sRGB1", "CAM02-UCS")[:, 0]
    assert not ((np.diff(lightness) > 0).all() or (np.diff(lightness) < 0).all())


def test_any_two_of_the_first_24_series_differ_in_two_ways():
    styles = [palette.series_style(index) for index in range(24)]
    for (first, a), (second, b) in itertools.combinations(enumerate(styles), 2):
        assert sum(a[key] != b[key] for key in a) >= 2, f"series {first} and {second} differ in colour, marker or line style only once"
    with pytest.raises(ValueError, match="index=-1"):
        palette.series_style(-1)


def _line_looks(axes):
    return [(line.get_color(), line.get_marker(), str(line.get_linestyle())) for line in axes.get_lines() if line.get_label()[:1] != "_"]


def test_learning_curves_tell_training_from_validation_without_colour():
    history = pandas.DataFrame({"loss": [0.9, 0.6, 0.5], "accuracy": [0.5, 0.7, 0.8],
                                "val_loss": [1.0, 0.8, 0.9], "val_accuracy": [0.4, 0.6, 0.6]})
    for axes in plot_learning_curves(history).axes:
        training, validation = [line for line in axes.get_lines() if line.get_label() in ("training", "validation")]
        assert training.get_marker() != validation.get_marker()
        assert training.get_linestyle() != validation.get_linestyle()
        assert {training.get_color(), validation.get_color()} <= {colour.lower() for colour in palette.SERIES_COLOURS} | set(palette.SERIES_COLOURS)


def test_roc_curves_and_bar_groups_differ_beyond_colour():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 10)
    probabilities = rng.dirichlet([1, 1, 1], size=30)
    looks = [(marker, style) for _, marker, style in _line_looks(plot_roc_curves(labels, probabilities, ["a", "b", "c"]).axes[0])]
    assert len(set(looks)) == len(looks) == 4, f"ROC curves (three classes and chance) share a marker and line style: {looks}"

    frame = pandas.DataFrame({"class_name": ["a", "b"] * 6, "subset": ["train"] * 6 + ["validation"] * 4 + ["test"] * 2})
    axes = plot_class_counts(frame).axes[0]
    hatches = {patch.get_hatch() or "" for patch in axes.patches}
    assert len(hatches) == 3, f"the three subsets' bars need three hatches, got {hatches}"


def test_wrong_predictions_are_marked_by_word_and_frame_not_only_colour():
    figure = plot_prediction_grid(np.zeros((2, 8, 8, 3), "uint8"), [0, 1], [[0.9, 0.1], [0.9, 0.1]], ["a", "b"], count=2)
    right, wrong = figure.axes
    assert "WRONG" in wrong.get_title() and "WRONG" not in right.get_title()
    assert wrong.spines["left"].get_linewidth() > right.spines["left"].get_linewidth()
    assert matplotlib.colors.to_hex(wrong.title.get_color()).lower() == palette.WRONG_COLOUR.lower()


def test_grad_cam_overlay_uses_the_palettes_heatmap():
    figure = plot_heatmaps(np.zeros((1, 8, 8), "uint8"), np.random.default_rng(0).random((1, 8, 8)), [[0.7, 0.3]], ["a", "b"])
    overlay = figure.axes[0].get_images()[-1]
    assert overlay.get_cmap().name == palette.HEATMAP_COLOUR_MAP
    assert "jet" not in figure._suptitle.get_text() and "red =" not in figure._suptitle.get_text()
