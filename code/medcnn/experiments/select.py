"""Winners, as the study picked them: most test images classified correctly, ties broken by macro F1.

With several seeds a setting's score is its mean over the seeds. A run that diverged
(its loss became NaN) counts as 0 images correct and macro F1 0, so a setting that
diverges on some seeds does not win on the others alone. Settings still tied after
macro F1 are taken in the order the stage lists them (the first wins), so the choice
never depends on the order rows were written.

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"setting_id": ["a", "b", "c"], "seed": 0, "status": "completed",
    ...                      "correct": [90, 95, 95], "f1_macro": [0.9, 0.93, 0.94]})
    >>> select_winner(rows)["setting_id"]
    'c'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medcnn.errors import DataError
from medcnn.experiments.results import COMPLETED, CONFIG_COLUMNS, METRIC_COLUMNS

SELECTION_METRICS = ("correct", "f1_macro")


def summarize_settings(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per setting (its seeds together): the configuration, ``seeds``, ``diverged`` and,
    for every metric, the mean over seeds (the metric's own name) and ``<metric>_std``.

    Rows keep the order in which their settings first appear.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"setting_id": ["a", "a"], "seed": [0, 1], "status": "completed",
        ...                      "accuracy": [0.5, 0.75]})
        >>> summary = summarize_settings(rows)
        >>> float(summary.loc[0, "accuracy"]), int(summary.loc[0, "seeds"])
        (0.625, 2)
    """
    if rows.empty:
        return pd.DataFrame(columns=["setting_id", "seeds", "diverged"])
    metrics = [name for name in METRIC_COLUMNS if name in rows.columns]
    metrics += [name for name in rows.columns if str(name).startswith("class.")]
    kept = [name for name in ("setting_id", *CONFIG_COLUMNS) if name in rows.columns and name != "seed"]
    summaries = []
    for setting, group in rows.groupby("setting_id", sort=False):
        summary = group.iloc[0][kept].to_dict()
        summary["seeds"] = int(len(group))
        summary["diverged"] = int((group["status"] != COMPLETED).sum())
        for name in metrics:
            values = pd.to_numeric(group[name], errors="coerce")
            summary[name] = float(values.mean()) if values.notna().any() else np.nan
            summary[f"{name}_std"] = float(values.std(ddof=1)) if values.notna().sum() > 1 else np.nan
        summaries.append(summary)
    return pd.DataFrame(summaries)


def selection_scores(rows: pd.DataFrame) -> pd.DataFrame:
    """Per setting, in first-appearance order: mean images correct and mean macro F1, diverged runs as 0.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"setting_id": ["a", "a"], "status": ["completed", "diverged"],
        ...                      "correct": [10, None], "f1_macro": [0.5, None]})
        >>> selection_scores(rows)["correct"].tolist()
        [5.0]
    """
    missing = [name for name in ("setting_id", "status", *SELECTION_METRICS) if name not in rows.columns]
    if missing:
        raise DataError(f"results rows lack column(s) {missing}: expected rows of a study results table")
    scored = rows[["setting_id", "status", *SELECTION_METRICS]].copy()
    for name in SELECTION_METRICS:
        values = pd.to_numeric(scored[name], errors="coerce")
        scored[name] = values.where(scored["status"] == COMPLETED, 0.0).fillna(0.0)
    order = {setting: position for position, setting in enumerate(dict.fromkeys(scored["setting_id"]))}
    scores = scored.groupby("setting_id", sort=False)[list(SELECTION_METRICS)].mean().reset_index()
    scores["order"] = scores["setting_id"].map(order)
    return scores.sort_values("order").reset_index(drop=True)


def select_winner(rows: pd.DataFrame) -> pd.Series:
    """The winning setting's first row among ``rows`` (listed in the stage's order).

    Raises :class:`~medcnn.errors.DataError` when there are no rows, or every run diverged.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"setting_id": ["a", "b"], "status": "completed",
        ...                      "correct": [50, 50], "f1_macro": [0.7, 0.7]})
        >>> select_winner(rows)["setting_id"]  # a tie on both: the first listed wins
        'a'
    """
    if rows.empty:
        raise DataError("no results to pick a winner from: run the stage first")
    if not (rows["status"] == COMPLETED).any():
        raise DataError(
            f"every run of this stage diverged ({len(rows)} runs): no winner; "
            "check the data and the learning rates, then run the stage again in a new --out folder"
        )
    scores = selection_scores(rows)
    # Stable sort: best correct first, then best macro F1, then the stage's order.
    ranked = scores.sort_values(["correct", "f1_macro", "order"], ascending=[False, False, True], kind="mergesort")
    winner = ranked.iloc[0]["setting_id"]
    return rows[rows["setting_id"] == winner].iloc[0]
