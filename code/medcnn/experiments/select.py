"""Winners: which setting of a stage goes on to the next one.

Two rules, named by ``select_on``:

- ``"val"`` (the course's default): the best score on the **validation** subset —
  highest validation accuracy, ties broken by lower validation loss. Both are those of
  the epoch whose weights the run kept (EarlyStopping restores the lowest validation
  loss), recorded in the results row as ``val_accuracy`` and ``val_loss`` (see
  :func:`validation_score`). The test subset then stays unseen until the end, so its
  figures are honest estimates of how the winner does on new images.
- ``"test"`` (the study's rule, to reproduce its choices): most **test** images
  classified correctly, ties broken by macro F1 (a tie-break the study does not state;
  the course's). Picking the best of many settings by their test scores flatters the
  winner: some of its lead is luck on those particular test images, and the same
  images then report its accuracy.

With several seeds a setting's score is its mean over the seeds. A run that diverged
(its loss became NaN) scores 0 on everything (and, on ``val``, the worst loss), so a
setting that diverges on some seeds does not win on the others alone. Settings still
tied are taken in the order the stage lists them (the first wins), so the choice never
depends on the order rows were written.

Example:
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"setting_id": ["a", "b", "c"], "seed": 0, "status": "completed",
    ...                      "correct": [90, 95, 95], "f1_macro": [0.9, 0.93, 0.94],
    ...                      "val_accuracy": [0.97, 0.91, 0.92], "val_loss": [0.2, 0.3, 0.3]})
    >>> select_winner(rows, select_on="test")["setting_id"], select_winner(rows, select_on="val")["setting_id"]
    ('c', 'a')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from medcnn.errors import DataError
from medcnn.experiments.results import COMPLETED, CONFIG_COLUMNS, METRIC_COLUMNS

SELECT_ON = ("val", "test")
DEFAULT_SELECT_ON = "val"
# Per rule: the scores, in order of importance, and whether higher is better.
SELECTION_RULES = {
    "test": (("correct", True), ("f1_macro", True)),
    "val": (("val_accuracy", True), ("val_loss", False)),
}
SELECTION_METRICS = tuple(name for name, _ in SELECTION_RULES["test"])


def _check_rule(select_on: str) -> str:
    if select_on not in SELECTION_RULES:
        raise DataError(f"select_on={select_on!r}: expected one of {', '.join(SELECT_ON)} "
                        "(val: the validation subset, the course's rule; test: the study's)")
    return select_on


def validation_score(history: pd.DataFrame) -> dict:
    """The validation accuracy and loss of the weights a run kept: its last stage's lowest-``val_loss`` epoch.

    EarlyStopping (``restore_best_weights=True``) leaves the model with the weights of
    the epoch of lowest validation loss, in Keras 3 also when training runs to its last
    epoch; with fine-tuning, the fine-tuning stage's. Empty when the history has no
    validation columns.

    Example:
        >>> import pandas as pd
        >>> history = pd.DataFrame({"val_loss": [0.5, 0.3, 0.4], "val_accuracy": [0.8, 0.85, 0.9]})
        >>> validation_score(history)
        {'val_accuracy': 0.85, 'val_loss': 0.3}
    """
    if history is None or len(history) == 0 or not {"val_loss", "val_accuracy"} <= set(history.columns):
        return {}
    if "stage" in history.columns:
        history = history[history["stage"] == history["stage"].iloc[-1]]
    losses = pd.to_numeric(history["val_loss"], errors="coerce")
    if losses.isna().all():
        return {}
    best = history.loc[losses.idxmin()]
    return {"val_accuracy": float(best["val_accuracy"]), "val_loss": float(best["val_loss"])}


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


def selection_scores(rows: pd.DataFrame, *, select_on: str = DEFAULT_SELECT_ON) -> pd.DataFrame:
    """Per setting, in first-appearance order: the mean of the rule's scores, diverged runs scored worst.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"setting_id": ["a", "a"], "status": ["completed", "diverged"],
        ...                      "correct": [10, None], "f1_macro": [0.5, None]})
        >>> selection_scores(rows, select_on="test")["correct"].tolist()
        [5.0]
    """
    rule = SELECTION_RULES[_check_rule(select_on)]
    names = [name for name, _ in rule]
    missing = [name for name in ("setting_id", "status", *names) if name not in rows.columns]
    if missing:
        hint = ("; this table has no validation scores (written before they were recorded): "
                "pick on the test subset with select_on='test' (--select-on test), or run the stage again"
                if select_on == "val" and {"setting_id", "status"} <= set(rows.columns) else "")
        raise DataError(f"results rows lack column(s) {missing}: expected rows of a study results table{hint}")
    scored = rows[["setting_id", "status", *names]].copy()
    completed = scored["status"] == COMPLETED
    for name, higher_is_better in rule:
        values = pd.to_numeric(scored[name], errors="coerce")
        if select_on == "val" and values[completed].isna().any():
            raise DataError(f"a completed run has no {name}: its validation score was not recorded; "
                            "pick on the test subset with select_on='test' (--select-on test), or run it again")
        worst = 0.0 if higher_is_better else np.inf
        scored[name] = values.where(completed, worst).fillna(worst)
    order = {setting: position for position, setting in enumerate(dict.fromkeys(scored["setting_id"]))}
    scores = scored.groupby("setting_id", sort=False)[names].mean().reset_index()
    scores["order"] = scores["setting_id"].map(order)
    return scores.sort_values("order").reset_index(drop=True)


def select_winner(rows: pd.DataFrame, *, select_on: str = DEFAULT_SELECT_ON) -> pd.Series:
    """The winning setting's first row among ``rows`` (listed in the stage's order), by the ``select_on`` rule.

    Raises :class:`~medcnn.errors.DataError` when there are no rows, every run diverged,
    or the rule's scores are not in the rows.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"setting_id": ["a", "b"], "status": "completed",
        ...                      "correct": [50, 50], "f1_macro": [0.7, 0.7]})
        >>> select_winner(rows, select_on="test")["setting_id"]  # a tie on both: the first listed wins
        'a'
    """
    _check_rule(select_on)
    if rows.empty:
        raise DataError("no results to pick a winner from: run the stage first")
    if not (rows["status"] == COMPLETED).any():
        raise DataError(
            f"every run of this stage diverged ({len(rows)} runs): no winner; "
            "check the data and the learning rates, then run the stage again in a new --out folder"
        )
    rule = SELECTION_RULES[select_on]
    scores = selection_scores(rows, select_on=select_on)
    # Stable sort: best first score, then the tie-break, then the stage's order.
    ranked = scores.sort_values([name for name, _ in rule] + ["order"],
                                ascending=[not higher for _, higher in rule] + [True], kind="mergesort")
    winner = ranked.iloc[0]["setting_id"]
    return rows[rows["setting_id"] == winner].iloc[0]
