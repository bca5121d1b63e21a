"""The chapters' code as a reader meets it: short lines, and settings that do what they say."""

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
DATASET_CHAPTERS = ("brain_tumor", "covid19", "retina")
MAXIMUM_LINE = 88


def code_cells(path: Path) -> list[tuple[int, str]]:
    """Each ``{code-cell}`` of a MyST notebook: (line number of its first code line, its source).

    The cell's options (a ``---`` YAML block, such as the figures' alt text, or ``:key:`` lines)
    are metadata, not code, and are left out.
    """
    cells, current, start, in_options = [], None, 0, False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if current is None and line.startswith("```{code-cell}"):
            current, start = [], number + 1
        elif current is not None and not current and (in_options or line == "---" and start == number):
            in_options = line != "---" or not in_options
            start = number + 1
        elif current is not None and not current and line.startswith(":") and start == number:
            start = number + 1
        elif current is not None and line.startswith("```"):
            cells.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return cells


def chapters() -> list[Path]:
    return sorted(path for path in BOOK.rglob("*.md") if "code-cell" in path.read_text())


def test_no_chapter_code_line_is_longer_than_88_characters():
    long_lines = [
        f"{path.relative_to(BOOK)}:{start + offset}: {len(line)} characters"
        for path in chapters()
        for start, source in code_cells(path)
        for offset, line in enumerate(source.splitlines())
        if len(line) > MAXIMUM_LINE
    ]
    assert not long_lines, "code lines over 88 characters:\n" + "\n".join(long_lines)


CLASSES = {"brain_tumor": 3, "covid19": 3, "retina": 2}
BACKBONES = {"brain_tumor": "resnet50", "covid19": "vgg16", "retina": "vgg16"}


def _cell(chapter: str, pattern: str) -> str:
    """The one code cell of a dataset chapter that matches ``pattern`` (a regular expression)."""
    cells = [source for _, source in code_cells(BOOK / "datasets" / f"{chapter}.md")
             if re.search(pattern, source, re.MULTILINE)]
    assert len(cells) == 1, f"{chapter}: expected one cell matching {pattern!r}, found {len(cells)}"
    return "\n".join(line for line in cells[0].splitlines() if not line.startswith("model.summary"))


def _chapter_model(chapter: str, *, augment: bool):
    """Run the chapter's own cells that build the base and the model; return the namespace."""
    import keras

    from medcnn.augment import build_augmentation

    import numpy as np

    namespace = {
        "keras": keras, "np": np, "parameters": _parameters, "AUGMENT": augment, "DATASET": chapter, "SEED": 0, "IMAGE_SIZE": 32,
        "WEIGHTS": None, "class_names": [f"class {number}" for number in range(CLASSES[chapter])],
        "build_augmentation": build_augmentation,
    }
    for pattern in (r"^base = keras\.applications\.", r"^model = keras\.Model\("):
        exec(compile(_cell(chapter, pattern), f"{chapter}.md", "exec"), namespace)
    return namespace


def _parameters(weights) -> int:
    import numpy as np

    return sum(int(np.prod(weight.shape)) for weight in weights)


def _description(model) -> list:
    """Each layer's kind, and its name where the name is chosen (not Keras's counter), with its settings."""
    rows = []
    for layer in model.layers:
        generated = re.fullmatch(r"[a-z_]+?(_\d+)?", layer.name) and layer.name.rstrip("_0123456789") in (
            "cast", "get_item", "stack", "add", "subtract", "multiply", "divide", "true_divide")
        config = {key: layer.get_config().get(key) for key in ("units", "activation")}
        rows.append((type(layer).__name__, None if generated else layer.name, config, _parameters(layer.weights)))
    return rows


def _backbone_layers(model) -> list:
    from medcnn.models.classifier import backbone_layer

    return [(type(layer).__name__, "input" if type(layer).__name__ == "InputLayer" else layer.name,
             _parameters(layer.weights)) for layer in backbone_layer(model).layers]


@pytest.mark.parametrize("chapter", DATASET_CHAPTERS)
def test_each_chapters_model_equals_build_classifier(chapter):
    """The chapter writes the model in Keras's own calls; the package's build_classifier must build the same."""
    from medcnn.augment import build_augmentation
    from medcnn.models.classifier import backbone_layer, build_classifier, has_augmentation
    from medcnn.models.fine_tune import unfreeze_second_half

    without = _chapter_model(chapter, augment=False)["model"]
    namespace = _chapter_model(chapter, augment=True)
    mine = namespace["model"]
    package = build_classifier(BACKBONES[chapter], CLASSES[chapter], weights=None, input_size=32, seed=0,
                               augmentation=build_augmentation(chapter, seed=0))
    assert _description(mine) == _description(package)
    assert mine.count_params() == package.count_params() == without.count_params()
    assert _parameters(mine.trainable_weights) == _parameters(package.trainable_weights)
    assert _backbone_layers(mine) == _backbone_layers(package)
    assert has_augmentation(mine) and not has_augmentation(without)
    assert _description(without) == [row for row in _description(mine) if row[1] != "augmentation"]
    # the fine-tuning cell unfreezes what unfreeze_second_half does (BatchNorm stays frozen)
    namespace["FINE_TUNE"] = True
    exec(compile(_cell(chapter, r"^\s+base\.trainable = True"), f"{chapter}.md", "exec"), namespace)
    unfreeze_second_half(package)
    assert [layer.trainable for layer in namespace["base"].layers] == [
        layer.trainable for layer in backbone_layer(package).layers]
    assert _parameters(namespace["model"].trainable_weights) == _parameters(package.trainable_weights)


def test_the_chapters_train_with_keras_fit_not_the_packages_shortcuts():
    for chapter in DATASET_CHAPTERS:
        code = "\n".join(source for _, source in code_cells(BOOK / "datasets" / f"{chapter}.md"))
        assert re.search(r"^history = model\.fit\(", code, re.MULTILINE), chapter
        for shortcut in ("build_classifier(", "frozen_stage(", "train_classifier(", "fine_tune_classifier(",
                         "callbacks[0].frame()"):
            assert shortcut not in code, f"{chapter}: a code cell calls {shortcut}"


def test_class_weights_move_recall_to_the_small_classes():
    """The COVID-19 chapter's measurement: balanced class weights raise the small classes' recall, on every seed."""
    import numpy as np
    import pandas as pd

    namespace = {"np": np, "pd": pd, "class_names": ["normal", "viral_pneumonia", "covid"]}
    exec(compile(_cell("covid19", r"LogisticRegression\(class_weight"), "covid19.md", "exec"), namespace)
    recalls = pd.DataFrame(namespace["recalls"]).set_index(["class weights", "seed"])
    gain = recalls.loc["balanced"] - recalls.loc["none"]
    assert len(gain) == 5
    assert (gain["viral_pneumonia"] >= 0.3).all(), gain
    assert (gain["covid"] >= 0.1).all(), gain
    assert (gain["normal"] <= -0.2).all(), gain
