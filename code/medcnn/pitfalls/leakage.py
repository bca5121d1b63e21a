"""Synthetic brain MRI with a patient signature: what a slice-level split leaks.

Each patient's slices share a *signature* that says nothing about the tumour:
the skull's shape and thickness, the patient's anatomy (a coarse pattern of
brighter and darker tissue), a scanner texture (stripes of one frequency and
direction) and an intensity gain. The tumour type shows only as a faint,
jittered bright spot whose place depends on the type (meningioma at the brain's
edge, glioma inside a hemisphere, pituitary low in the middle). Split by slice,
every test patient also has slices in training, and a network can score well by
recognising the patient; split by patient it must read the tumour (Yagis et al.
2021).

Example:
    >>> data = make_leakage_data(patients_per_class=2, slices_per_patient=3, seed=0)
    >>> data.images.shape, sorted(set(data.index["patient_id"]))[:2]
    ((18, 32, 32, 1), ['P000', 'P001'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from medcnn.errors import ConfigError
from medcnn.pitfalls.models import accuracy, train_and_predict
from medcnn.splits import make_splits

CLASS_NAMES = ("meningioma", "glioma", "pituitary")


@dataclass(frozen=True)
class LeakageData:
    """Slices and their index.

    Attributes:
        images: float32 (n, size, size, 1), values 0-1.
        index: one row per slice: ``label``, ``class_name``, ``patient_id``, ``path``
            (a name only; nothing is written), ready for :func:`medcnn.splits.make_splits`.
    """

    images: np.ndarray
    index: pd.DataFrame


def _tumour_centre(rng, label: int) -> tuple[float, float]:
    """Where a tumour of this type sits, as (row, column) fractions of the image."""
    if label == 0:  # meningioma: against the skull, anywhere around the edge of the brain
        angle = rng.uniform(0, 2 * np.pi)
        return 0.5 + 0.3 * np.sin(angle), 0.5 + 0.3 * np.cos(angle)
    if label == 1:  # glioma: inside one hemisphere
        return rng.uniform(0.35, 0.6), rng.choice([0.33, 0.67]) + rng.uniform(-0.05, 0.05)
    return rng.uniform(0.62, 0.7), 0.5 + rng.uniform(-0.04, 0.04)  # pituitary: low in the middle


def make_leakage_data(
    *,
    patients_per_class: int = 12,
    slices_per_patient: int = 10,
    image_size: int = 32,
    tumour_contrast: float = 0.12,
    signature_strength: float = 1.0,
    seed: int = 0,
) -> LeakageData:
    """Draw ``3 * patients_per_class`` patients with ``slices_per_patient`` slices each.

    Args:
        patients_per_class: patients of each tumour type.
        slices_per_patient: slices per patient (all of one tumour type).
        image_size: side in pixels (at least 24).
        tumour_contrast: how much brighter the tumour is than the brain; small
            values make the tumour hard to read.
        signature_strength: scales the patient signature's anatomy pattern, texture
            and gain; 0 removes them (the skull's shape stays).
        seed: seeds everything.

    Example:
        >>> data = make_leakage_data(patients_per_class=2, slices_per_patient=2, seed=1)
        >>> int(data.index.groupby("patient_id")["label"].nunique().max())
        1
    """
    for name, value, least in (
        ("patients_per_class", patients_per_class, 2),
        ("slices_per_patient", slices_per_patient, 1),
        ("image_size", image_size, 24),
    ):
        if int(value) != value or value < least:
            raise ConfigError(f"{name}={value!r}: expected a whole number of at least {least}")
    rng = np.random.default_rng(seed)
    size = int(image_size)
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images, records = [], []
    labels = np.repeat(np.arange(3), int(patients_per_class))
    for number, label in enumerate(labels):
        patient = f"P{number:03d}"
        # The signature: skull shape, stripe texture, gain.
        height, width = rng.uniform(0.34, 0.46), rng.uniform(0.3, 0.44)
        skull = rng.uniform(0.03, 0.07)
        frequency, direction = rng.uniform(4, 14), rng.uniform(0, np.pi)
        texture = signature_strength * rng.uniform(0.06, 0.12)
        gain = 1.0 + signature_strength * rng.uniform(-0.25, 0.25)
        # The patient's own anatomy: a coarse random pattern of brighter and darker tissue.
        coarse = rng.normal(0, 1, size=(5, 5))
        block = np.ones((size // 5 + 1, size // 5 + 1))
        anatomy = signature_strength * 0.08 * np.kron(coarse, block)[:size, :size]
        for slice_number in range(int(slices_per_patient)):
            shrink = 1.0 - 0.25 * abs(slice_number / max(1, slices_per_patient - 1) - 0.5)
            radius = ((rows - 0.5) / (height * shrink)) ** 2 + ((columns - 0.5) / (width * shrink)) ** 2
            head = radius < 1.0
            brain = ((rows - 0.5) / (height * shrink - skull)) ** 2 + ((columns - 0.5) / (width * shrink - skull)) ** 2 < 1.0
            stripes = np.sin(2 * np.pi * frequency * (rows * np.cos(direction) + columns * np.sin(direction)))
            image = np.where(head, 0.75, 0.04) + np.where(brain, -0.3 + texture * stripes + anatomy, 0.0)
            centre_row, centre_column = _tumour_centre(rng, int(label))
            spread = rng.uniform(0.05, 0.08)
            distance = (rows - centre_row) ** 2 + (columns - centre_column) ** 2
            image = image + np.where(brain, tumour_contrast * np.exp(-distance / (2 * spread**2)), 0.0)
            image = gain * image + rng.normal(0, 0.05, size=(size, size))
            images.append(np.clip(image, 0.0, 1.0).astype(np.float32))
            records.append(
                {
                    "path": f"{patient}/slice_{slice_number:02d}",
                    "label": int(label),
                    "class_name": CLASS_NAMES[int(label)],
                    "patient_id": patient,
                }
            )
    return LeakageData(np.stack(images)[..., None], pd.DataFrame.from_records(records))


@dataclass
class LeakageResult:
    """One split strategy's test predictions.

    Attributes:
        strategy: ``"stratified"`` (by slice) or ``"grouped"`` (by patient).
        test_index: the test slices' rows (with ``patient_id``).
        probabilities: the model's class probabilities on them.
        shared_patients: how many test patients also have slices in training.
    """

    strategy: str
    test_index: pd.DataFrame
    probabilities: np.ndarray
    shared_patients: int

    @property
    def accuracy(self) -> float:
        """Test accuracy."""
        return accuracy(self.probabilities, self.test_index["label"].to_numpy())


def run_split(
    data: LeakageData,
    *,
    strategy: str = "grouped",
    test_fraction: float = 0.3,
    epochs: int = 25,
    pooling: str = "flatten",
    seed: int = 0,
) -> LeakageResult:
    """Split ``data`` by slice (``"stratified"``) or by patient (``"grouped"``), train a small CNN, test it.

    The split is :func:`medcnn.splits.make_splits` (the course's own); its small
    validation subset joins training (nothing stops early); the model is trained and
    tested by :func:`medcnn.pitfalls.models.train_and_predict`.

    Example:
        >>> result = run_split(make_leakage_data(seed=0), strategy="stratified")  # doctest: +SKIP
        >>> result.shared_patients > 0  # doctest: +SKIP
        True
    """
    if strategy not in ("stratified", "grouped"):
        raise ConfigError(f"strategy={strategy!r}: expected 'stratified' (by slice) or 'grouped' (by patient)")
    index = data.index.assign(split="")
    if not 0.05 <= test_fraction <= 0.5:
        raise ConfigError(f"test_fraction={test_fraction!r}: expected a share between 0.05 and 0.5")
    fractions = (1.0 - test_fraction - 0.05, 0.05, test_fraction)
    manifest = make_splits(index, strategy=strategy, fractions=fractions, seed=seed)
    training = manifest.index[manifest["subset"] != "test"].to_numpy()  # no early stopping: val joins training
    test = manifest.index[manifest["subset"] == "test"].to_numpy()
    _, (probabilities,) = train_and_predict(
        data.images[training], manifest.loc[training, "label"].to_numpy(), test_images=[data.images[test]],
        num_classes=3, epochs=epochs, pooling=pooling, seed=seed,
    )
    shared = len(set(manifest.loc[test, "patient_id"]) & set(manifest.loc[training, "patient_id"]))
    return LeakageResult(strategy, manifest.loc[test].reset_index(drop=True), probabilities, shared)
