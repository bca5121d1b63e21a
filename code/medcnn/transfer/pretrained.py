"""Pretraining the lesson's backbone on a source task, and loading the weights that ship with the package.

The shipped weights were made once with the command in :data:`RECREATE_COMMAND`
(seeded; a few minutes on a CPU); each ``<kind>.weights.h5`` file sits beside a
``<kind>.json`` training record (data sizes, settings, accuracy per epoch,
seconds, the versions used, the command). :func:`load_backbone` builds the
backbone and loads them: every build uses the same pretrained network.

Example:
    >>> backbone, record = load_backbone("shapes")  # doctest: +SKIP
    >>> record["held_out_accuracy"] > 0.9  # doctest: +SKIP
    True
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from medcnn.errors import ConfigError, DataError
from medcnn.files import atomic_path
from medcnn.transfer.network import build_backbone, build_head
from medcnn.transfer.sources import SOURCE_KINDS, make_source_data

WEIGHTS_FOLDER = Path(__file__).resolve().parent / "weights"
RECREATE_COMMAND = "python -m medcnn.transfer.pretrained --kind {kind} --seed {seed}"
DEFAULTS = dict(training_count=12_000, held_out_count=2_400, image_size=32, epochs=6, batch_size=64,
                learning_rate=2e-3, seed=0)


def weights_path(kind: str, *, folder=None) -> Path:
    """Where the weights pretrained on source ``kind`` are kept (the package's own folder by default).

    Example:
        >>> weights_path("shapes").name
        'shapes.weights.h5'
    """
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"kind={kind!r}: expected one of {tuple(SOURCE_KINDS)}")
    return Path(folder or WEIGHTS_FOLDER) / f"{kind}.weights.h5"


def pretrain(
    *,
    kind: str = "shapes",
    training_count: int = DEFAULTS["training_count"],
    held_out_count: int = DEFAULTS["held_out_count"],
    image_size: int = DEFAULTS["image_size"],
    epochs: int = DEFAULTS["epochs"],
    batch_size: int = DEFAULTS["batch_size"],
    learning_rate: float = DEFAULTS["learning_rate"],
    seed: int = DEFAULTS["seed"],
):
    """Train the backbone and a 24-class head on source ``kind``; return ``(backbone, record)``.

    The record holds the settings, the training and held-out accuracy per epoch,
    and the seconds taken. The held-out images are drawn with another seed.

    Example:
        >>> backbone, record = pretrain(kind="ramps", training_count=480, held_out_count=96, epochs=1)  # doctest: +SKIP
    """
    import keras

    started = time.perf_counter()
    training = make_source_data(training_count, kind=kind, image_size=image_size, seed=seed * 1000 + 1)
    held_out = make_source_data(held_out_count, kind=kind, image_size=image_size, seed=seed * 1000 + 2)
    backbone = build_backbone(image_size=image_size, seed=seed)
    head = build_head(backbone.output.shape[1:], len(training.class_names), seed=seed)
    model = keras.Sequential([keras.Input((image_size, image_size, 1)), backbone, head], name=f"pretraining_{kind}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(training.images, training.labels, validation_data=(held_out.images, held_out.labels),
                        epochs=int(epochs), batch_size=int(batch_size), shuffle=True, verbose=0)
    record = {
        "kind": kind,
        "classes": list(training.class_names),
        "training_count": int(training_count),
        "held_out_count": int(held_out_count),
        "image_size": int(image_size),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "seed": int(seed),
        "training_accuracy": [round(float(value), 4) for value in history.history["accuracy"]],
        "held_out_accuracy_per_epoch": [round(float(value), 4) for value in history.history["val_accuracy"]],
        "held_out_accuracy": round(float(history.history["val_accuracy"][-1]), 4),
        "parameters": int(backbone.count_params()),
        "seconds": round(time.perf_counter() - started, 1),
        "versions": {"keras": keras.__version__, "backend": keras.backend.backend(), "numpy": np.__version__,
                     "python": platform.python_version()},
        "command": RECREATE_COMMAND.format(kind=kind, seed=seed),
    }
    return backbone, record


def save_backbone(backbone, record: dict, *, folder=None) -> Path:
    """Write ``backbone``'s weights and ``record`` (as JSON beside them); return the weights' path.

    Example:
        >>> save_backbone(backbone, record, folder="/tmp/weights")  # doctest: +SKIP
    """
    path = weights_path(record["kind"], folder=folder)
    # Keras checks the suffix of the name it writes to: the temporary name keeps ".weights.h5"
    with atomic_path(path, suffix=".weights.h5") as temporary:
        backbone.save_weights(temporary)
    with atomic_path(path.with_name(f"{record['kind']}.json")) as temporary:
        temporary.write_text(json.dumps(record, indent=1) + "\n")
    return path


def load_record(kind: str = "shapes", *, folder=None) -> dict:
    """The training record of the weights pretrained on ``kind``.

    Example:
        >>> load_record("shapes")["training_count"]  # doctest: +SKIP
        12000
    """
    path = weights_path(kind, folder=folder).with_name(f"{kind}.json")
    if not path.is_file():
        raise DataError(f"{path}: no training record; re-create it with `{RECREATE_COMMAND.format(kind=kind, seed=0)}`")
    return json.loads(path.read_text())


def load_backbone(kind: str = "shapes", *, image_size: int | None = None, folder=None):
    """Build the backbone and load the weights pretrained on source ``kind``; return ``(backbone, record)``.

    ``image_size`` builds it for larger images than it was trained on (the
    convolutions' weights do not depend on the image size), e.g. to look at its
    feature maps on a 128-pixel slice.

    Example:
        >>> backbone, record = load_backbone("shapes")  # doctest: +SKIP
        >>> record["command"]  # doctest: +SKIP
        'python -m medcnn.transfer.pretrained --kind shapes --seed 0'
    """
    record = load_record(kind, folder=folder)
    path = weights_path(kind, folder=folder)
    if not path.is_file():
        raise DataError(f"{path}: the pretrained weights are missing; re-create them with `{record['command']}`")
    backbone = build_backbone(image_size=image_size or record["image_size"], seed=record["seed"])
    backbone.load_weights(path)
    return backbone, record


def main(argv=None) -> None:
    """Re-create the shipped weights: ``python -m medcnn.transfer.pretrained --kind shapes --seed 0``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=tuple(SOURCE_KINDS), default="shapes")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    parser.add_argument("--training-count", type=int, default=DEFAULTS["training_count"])
    parser.add_argument("--folder", default=None, help="where to write (default: the package's weights folder)")
    arguments = parser.parse_args(argv)
    backbone, record = pretrain(kind=arguments.kind, seed=arguments.seed, epochs=arguments.epochs,
                                training_count=arguments.training_count)
    path = save_backbone(backbone, record, folder=arguments.folder)
    print(f"{path}: held-out accuracy {record['held_out_accuracy']:.3f} after {record['seconds']:.0f} s")


if __name__ == "__main__":
    main()
