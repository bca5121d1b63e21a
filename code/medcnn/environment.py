"""The environment variables a user may set: the one list, and the one reader.

medcnn reads no other environment variable of its own. Tests and tools do not steer
the package through the environment: they pass arguments, or replace a module's
constant (``medcnn.datasets.brain_tumor.FIGSHARE``, for example) in the process they run.

| variable | what it sets | default |
|---|---|---|
| ``MEDCNN_PROFILE`` | ``smoke`` or ``full`` (:mod:`medcnn.profiles`) | ``smoke`` |
| ``MEDCNN_DATA_DIR`` | where datasets live (:mod:`medcnn.paths`) | ``~/.medcnn/data`` |
| ``MEDCNN_EPOCHS`` | the most epochs of a run, in either profile | the profile's |
| ``MEDCNN_FINE_TUNE_EPOCHS`` | the fine-tuning epochs | the profile's |
| ``MEDCNN_WEIGHTS`` | ``imagenet`` or ``none`` (random weights) | the profile's |

The last three shorten a ``full`` run (a first try on a small GPU quota; the full-profile
rehearsal, ``tools/rehearsal.py``, runs the chapters with them). Other libraries' variables
are theirs: Kaggle's credentials (``KAGGLE_API_TOKEN``, ``KAGGLE_USERNAME``/``KAGGLE_KEY``,
``KAGGLE_CONFIG_DIR``) are read by kagglehub, and by medcnn only to hide them from its messages;
``KERAS_HOME`` (where Keras keeps weights) and ``KERAS_BACKEND`` are Keras's.

Example:
    >>> sorted(USER_VARIABLES)[0]
    'MEDCNN_DATA_DIR'
"""

from __future__ import annotations

import os

USER_VARIABLES = {
    "MEDCNN_PROFILE": "smoke or full (default smoke)",
    "MEDCNN_DATA_DIR": "where datasets live (default ~/.medcnn/data; --data-dir wins)",
    "MEDCNN_EPOCHS": "the most epochs of a run (default: the profile's, smoke 2, full 100)",
    "MEDCNN_FINE_TUNE_EPOCHS": "the fine-tuning epochs (default: the profile's, smoke 1, full 5)",
    "MEDCNN_WEIGHTS": "imagenet or none (default: the profile's, smoke none, full imagenet)",
}
"""Every environment variable of medcnn's own, with what it sets."""

def user_setting(name: str) -> str | None:
    """The value of one of :data:`USER_VARIABLES`, stripped; ``None`` when unset or empty.

    Raises:
        KeyError: ``name`` is not one of :data:`USER_VARIABLES` (a new variable is listed first).

    Example:
        >>> os.environ["MEDCNN_PROFILE"] = " full "
        >>> user_setting("MEDCNN_PROFILE")
        'full'
        >>> del os.environ["MEDCNN_PROFILE"]
    """
    if name not in USER_VARIABLES:
        raise KeyError(f"{name} is not one of medcnn's environment variables: list it in USER_VARIABLES first")
    value = os.environ.get(name, "").strip()
    return value or None

