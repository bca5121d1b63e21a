"""The history of a run with two training stages, joined into one table.

The frozen-backbone stage and the fine-tuning stage each return one row per epoch,
both counted from 1. :func:`join_histories` puts them one after the other, with the
fine-tuning epochs continuing the count, and a ``stage`` column, so learning curves
read left to right and mark where fine-tuning began.
"""

from __future__ import annotations

import pandas as pd


def join_histories(train_history: pd.DataFrame, fine_tune_history: pd.DataFrame | None = None) -> pd.DataFrame:
    """One table of both stages' epochs: fine-tuning's epochs continue the first stage's count.

    Args:
        train_history: the frozen-backbone stage, one row per epoch (``epoch`` from 1).
        fine_tune_history: the fine-tuning stage, or ``None`` when there was none.

    Returns:
        The rows of both, with ``stage`` ``"train"`` or ``"fine_tune"``.

    Example:
        >>> first = pd.DataFrame({"epoch": [1, 2], "loss": [0.9, 0.7]})
        >>> second = pd.DataFrame({"epoch": [1], "loss": [0.6]})
        >>> join_histories(first, second)[["epoch", "stage"]].values.tolist()
        [[1, 'train'], [2, 'train'], [3, 'fine_tune']]
    """
    first = train_history.assign(stage="train")
    if fine_tune_history is None or len(fine_tune_history) == 0:
        return first.reset_index(drop=True)
    last_epoch = int(first["epoch"].max()) if len(first) else 0
    second = fine_tune_history.assign(epoch=fine_tune_history["epoch"] + last_epoch, stage="fine_tune")
    return pd.concat([first, second], ignore_index=True)
