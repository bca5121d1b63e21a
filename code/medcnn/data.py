"""The data steps the chapters call one by one: get the data, index, subset, split, batch.

``prepare_data`` → ``load_index`` → (``smoke_subset``) → ``split_index`` →
:func:`medcnn.images.cache.build_cache` → ``make_batches``. The one-run orchestration
that chains them with training and evaluation is :mod:`medcnn.pipeline`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.datasets import get_dataset
from medcnn.datasets.base import synthetic_settings
from medcnn.errors import DataError
from medcnn.paths import data_dir as resolve_data_dir
from medcnn.profiles import Profile, as_profile
from medcnn.splits import make_splits


def load_index(dataset: str, root, *, progress: bool = True) -> pd.DataFrame:
    """Index a dataset folder with its reader (see :mod:`medcnn.datasets`).

    Args:
        dataset: a key of :data:`medcnn.datasets.DATASET_KEYS`.
        root: the dataset folder.
        progress: show a progress bar where indexing reads every file (the brain MRI's
            3,064 ``.mat`` labels).

    Example:
        >>> import tempfile
        >>> from medcnn.datasets import get_dataset
        >>> root = get_dataset("folder").write_synthetic(tempfile.mkdtemp(), per_class=4, seed=0)
        >>> len(load_index("folder", root)) > 0
        True
    """
    import inspect

    reader = get_dataset(dataset).index
    if "progress" in inspect.signature(reader).parameters:
        return reader(Path(root), progress=progress)
    return reader(Path(root))


def prepare_data(dataset: str, *, profile: Profile | str | None = None, data_dir=None, seed: int = 0) -> Path:
    """Return the folder of ``dataset`` for a profile, getting the data if needed.

    ``full``: the real dataset under ``<data dir>/<dataset>``, downloaded if absent
    (figshare or Kaggle). ``smoke``: the real dataset if it is already there (a chapter
    then takes a small subset, see :func:`smoke_subset`), else a synthetic stand-in in
    the real on-disk format under ``<data dir>/synthetic/<dataset>`` — no network.

    Example:
        >>> import tempfile
        >>> root = prepare_data("retina", profile="smoke", data_dir=tempfile.mkdtemp())
        >>> root.name
        'retina'
    """
    chosen = as_profile(profile)  # a resolved Profile is used as it is
    module = get_dataset(dataset)
    real_root = resolve_data_dir(data_dir) / dataset
    if chosen.name == "full":
        if not _has_data(module, real_root):
            module.download(real_root)
        return real_root
    if _has_data(module, real_root) and synthetic_settings(real_root) is None:
        return real_root
    synthetic_root = resolve_data_dir(data_dir) / "synthetic" / dataset
    return Path(module.write_synthetic(synthetic_root, per_class=chosen.synthetic_per_class, seed=seed))


def _has_data(module, root: Path) -> bool:
    if not root.is_dir() or not any(root.iterdir()):
        return False
    try:
        module.index(root)
    except DataError:
        return False
    return True


MINIMUM_PATIENTS_PER_CLASS = 3


def smoke_subset(index: pd.DataFrame, *, per_class: int = 12, seed: int = 0) -> pd.DataFrame:
    """Keep at most ``per_class`` images of each class (per official split where there is one).

    Used by the smoke profile when the real dataset is on disk. Whole patients are kept
    where patient ids exist, and at least three of them per class, so a grouped split
    stays possible (a class may then exceed ``per_class``).

    Example:
        >>> import pandas as pd
        >>> index = pd.DataFrame({"path": [str(i) for i in range(40)], "label": [0, 1] * 20,
        ...                       "class_name": "x", "patient_id": "", "split": ""})
        >>> len(smoke_subset(index, per_class=5))
        10
    """
    generator = np.random.default_rng(seed)
    keep = []
    for _, group in index.groupby(["split", "label"], sort=True):
        patients = group["patient_id"].astype(str)
        if (patients != "").all():
            chosen, taken = [], 0
            for patient in generator.permutation(patients.unique()):
                # at least three patients per class, so a grouped split can fill train, val and test
                if len(chosen) >= per_class and taken >= MINIMUM_PATIENTS_PER_CLASS:
                    break
                chosen.extend(group.index[patients == patient])
                taken += 1
            keep.extend(chosen)
        else:
            keep.extend(generator.permutation(group.index.to_numpy())[:per_class])
    return index.loc[sorted(keep)].reset_index(drop=True)


def class_names_of(dataset: str, index: pd.DataFrame) -> list[str]:
    """The class names in label order: the dataset's own, else those found in the index.

    Example:
        >>> import pandas as pd
        >>> class_names_of("folder", pd.DataFrame({"label": [1, 0], "class_name": ["b", "a"]}))
        ['a', 'b']
    """
    names = getattr(get_dataset(dataset), "CLASS_NAMES", None)
    present = index.drop_duplicates("label").sort_values("label")
    if names is None:
        return present["class_name"].tolist()
    return list(names[: int(index["label"].max()) + 1])


def split_index(index: pd.DataFrame, *, dataset: str, strategy: str | None = None, seed: int = 0) -> pd.DataFrame:
    """Split with the dataset's own rule (grouped by patient for brain MRI, official for RFMiD, …).

    Example:
        >>> import pandas as pd
        >>> index = pd.DataFrame({"path": [str(i) for i in range(30)], "label": [0, 1, 2] * 10,
        ...                       "class_name": "x", "patient_id": "", "split": ""})
        >>> split_index(index, dataset="covid19", seed=0)["subset"].value_counts().to_dict()["train"]
        18
    """
    module = get_dataset(dataset)
    chosen = strategy or module.DEFAULT_SPLIT
    return make_splits(index, strategy=chosen, fractions=module.SPLIT_FRACTIONS, seed=seed)


def make_batches(cache, *, num_classes: int, batch_size: int = 32, seed: int = 0):
    """Training (shuffled each epoch), validation and test batches over an image cache.

    A batch size larger than the training subset is clamped to it, with a one-line warning.

    Example:
        >>> # train, val, test = make_batches(cache, num_classes=3, batch_size=32, seed=0)
    """
    from medcnn.batches import ArrayBatches

    rows = {subset: cache.rows(subset) for subset in ("train", "val", "test")}
    empty = [subset for subset, positions in rows.items() if len(positions) == 0]
    if empty:
        raise DataError(f"the manifest has no images in {', '.join(empty)}: split the data again with more images")
    if batch_size > len(rows["train"]):
        warnings.warn(
            f"batch_size={batch_size} is larger than the {len(rows['train'])} training images; using {len(rows['train'])}",
            stacklevel=2,
        )
        batch_size = len(rows["train"])
    common = dict(num_classes=num_classes, batch_size=batch_size, seed=seed)
    return (
        ArrayBatches(cache.images, cache.labels, indices=rows["train"], shuffle=True, **common),
        ArrayBatches(cache.images, cache.labels, indices=rows["val"], **common),
        ArrayBatches(cache.images, cache.labels, indices=rows["test"], **common),
    )
