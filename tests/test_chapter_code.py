"""The chapters' code as a reader meets it: short lines, and settings that do what they say."""

import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
DATASET_CHAPTERS = ("brain_tumor", "covid19", "retina")
MAXIMUM_LINE = 88


def code_cells(path: Path) -> list[tuple[int, str]]:
    """Each ``{code-cell}`` of a MyST notebook: (line number of its first line, its source)."""
    cells, current, start = [], None, 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if current is None and line.startswith("```{code-cell}"):
            current, start = [], number + 1
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


def _model_cell(chapter: str) -> str:
    cells = [source for _, source in code_cells(BOOK / "datasets" / f"{chapter}.md")
             if re.search(r"^model = build_classifier\(", source, re.MULTILINE)]
    assert len(cells) == 1, f"{chapter}: expected one cell that builds the model"
    # the cell up to the model (not its summary)
    return cells[0].split("\nmodel.summary")[0]


@pytest.mark.parametrize("chapter", DATASET_CHAPTERS)
def test_the_augment_setting_changes_the_chapters_model(chapter):
    from medcnn.augment import build_augmentation
    from medcnn.models.classifier import build_classifier, has_augmentation
    from medcnn.profiles import get_profile

    source = _model_cell(chapter)
    models = {}
    for augment in (False, True):
        namespace = {
            "AUGMENT": augment, "DATASET": chapter, "BACKBONE": "vgg16", "SEED": 0, "IMAGE_SIZE": 32,
            "WEIGHTS": None, "profile": get_profile("smoke"), "class_names": ["a", "b", "c"],
            "build_augmentation": build_augmentation, "build_classifier": build_classifier,
        }
        exec(compile(source, f"{chapter}.md model cell", "exec"), namespace)
        models[augment] = namespace["model"]
    assert not has_augmentation(models[False])
    assert has_augmentation(models[True])
    assert [layer.name for layer in models[True].get_layer("augmentation").layers][0] == "rotation"
