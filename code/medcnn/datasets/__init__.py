"""The study's datasets, read exactly as distributed, and synthetic stand-ins.

One module per dataset (``brain_tumor``, ``covid19``, ``retina``) plus ``folder``
for bring-your-own data laid out as ``root/<class>/*.png``. Each module has the
same shape: where the data comes from (``SOURCE``, ``LICENSE``, ``CITATION``),
``download(root)``, ``index(root)`` -> a table with the columns of
:data:`medcnn.datasets.base.INDEX_COLUMNS`, and ``write_synthetic(root)`` that
writes a small stand-in in exactly the real on-disk format.

Submodules are imported only when asked for, so ``import medcnn.datasets`` is light.

Example:
    >>> from medcnn.datasets import get_dataset
    >>> get_dataset("retina").CLASS_NAMES
    ('healthy', 'diseased')
"""

from __future__ import annotations

import importlib
from types import ModuleType

from medcnn.errors import ConfigError

# The registry: one line per dataset. Each module is the dataset's record (source, licence,
# citation, class names, layout, split rule) and its reader; the CLI's choices and the reports
# derive from here. What the study did with a dataset (its augmentation, whether its stages run
# on it) lives with the study: medcnn.augment.STUDY_AUGMENTATION, medcnn.experiments.stages.STUDY_DATASETS.
DATASET_KEYS = ("brain_tumor", "covid19", "retina", "folder")


def get_dataset(key: str) -> ModuleType:
    """Return the module that reads dataset ``key``.

    Args:
        key: one of :data:`DATASET_KEYS`.

    Raises:
        ConfigError: ``key`` is not a known dataset.

    Example:
        >>> from medcnn.datasets import get_dataset
        >>> get_dataset("brain_tumor").CLASS_NAMES
        ('meningioma', 'glioma', 'pituitary')
    """
    if key not in DATASET_KEYS:
        raise ConfigError(
            f"unknown dataset {key!r}: expected one of {', '.join(DATASET_KEYS)}"
        )
    return importlib.import_module(f"medcnn.datasets.{key}")

