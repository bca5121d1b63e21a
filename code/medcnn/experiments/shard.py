"""Sharing a stage between machines: a deterministic 1/N of its runs, and merging the tables after.

``--shard I/N`` takes every N-th configuration of the stage's list, starting at the
I-th (1-based). The list is the same on every machine (the stage's order, computed
from the same results table), so the N shards together run each configuration
exactly once, and neighbouring configurations (same backbone, different batch size)
go to different machines, which keeps the shards' costs close.

:func:`merge_tables` combines the shards' tables into one. A configuration found in
several tables is kept once if its results agree; if they differ (two machines gave
different numbers for the same config id), the merge is refused, naming the
configuration and the columns that differ. Only bookkeeping (wall time, device, date,
run folder) may differ.

Example:
    >>> parse_shard("2/3")
    (2, 3)
    >>> shard_items(list("abcdefg"), index=2, count=3)
    ['b', 'e']
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from medcnn.errors import ConfigError, DataError, plain
from medcnn.experiments.results import (
    BOOKKEEPING_COLUMNS,
    CONFIG_COLUMNS,
    RESULTS_FILE,
    locked,
    read_results,
    write_results,
)


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)`` with 1 ≤ I ≤ N; ``None`` → ``(1, 1)`` (everything).

    Example:
        >>> parse_shard(None)
        (1, 1)
    """
    if text is None:
        return 1, 1
    parts = str(text).split("/")
    try:
        index, count = (int(part) for part in parts)
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected I/N, such as 1/4 (the first of four shards)") from None
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard {text!r}: expected 1 <= I <= N, such as 1/4 … 4/4")
    return index, count


def shard_items(items: list, *, index: int = 1, count: int = 1) -> list:
    """Every ``count``-th item, starting with the ``index``-th (1-based).

    Example:
        >>> shard_items([1, 2, 3, 4], index=1, count=2)
        [1, 3]
    """
    parse_shard(f"{index}/{count}")
    return list(items)[index - 1 :: count]


def _same(left, right) -> bool:
    missing_left = left is None or (isinstance(left, float) and math.isnan(left))
    missing_right = right is None or (isinstance(right, float) and math.isnan(right))
    if missing_left or missing_right:
        return missing_left and missing_right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)) and not isinstance(left, bool):
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-12)
    return str(left) == str(right)


def merge_tables(tables, *, names=None) -> pd.DataFrame:
    """Combine results tables (DataFrames or paths); refuse configurations whose results conflict.

    Args:
        tables: DataFrames, ``results.csv`` files or study folders.
        names: how to name each table in an error message (default: its path or position).

    Example:
        >>> import pandas as pd
        >>> first = pd.DataFrame({"config_id": ["a"], "status": ["completed"], "accuracy": [0.5]})
        >>> second = pd.DataFrame({"config_id": ["a", "b"], "status": "completed", "accuracy": [0.5, 0.7]})
        >>> merge_tables([first, second])["config_id"].tolist()
        ['a', 'b']
    """
    frames, labels = [], []
    for position, table in enumerate(tables):
        if isinstance(table, pd.DataFrame):
            frames.append(table)
            labels.append(names[position] if names else f"table {position + 1}")
        else:
            frames.append(read_results(table))
            labels.append(names[position] if names else str(table))
    if not frames:
        raise ConfigError("nothing to merge: give one or more results tables")
    columns = list(dict.fromkeys(column for frame in frames for column in frame.columns))
    seen: dict[str, tuple[dict, str]] = {}
    settings_seen: dict[str, tuple[dict, str]] = {}
    merged = []
    for frame, label in zip(frames, labels):
        if "config_id" not in frame.columns:
            raise DataError(f"{label}: no config_id column; expected a results table written by `study`")
        for row in frame.to_dict(orient="records"):
            identifier = row["config_id"]
            readable = str(identifier).rsplit("-", 1)[0]  # what the study varies, without the settings' hash
            other = settings_seen.setdefault(readable, (row, label))
            if other[0]["config_id"] != identifier and other[1] != label:
                differing = [f"{column} {plain(other[0].get(column))} vs {plain(row.get(column))}" for column in CONFIG_COLUMNS
                             if not _same(other[0].get(column), row.get(column))]
                raise DataError(
                    f"{readable} was run with different settings in {other[1]} and {label} "
                    f"({', '.join(differing[:4]) or 'settings hash ' + str(other[0]['config_id'])}); the tables come "
                    "from studies that are not comparable: merge only shards run with the same --profile, --epochs "
                    "and --image-size"
                )
            if identifier not in seen:
                seen[identifier] = (row, label)
                merged.append(row)
                continue
            earlier, earlier_label = seen[identifier]
            differing = [
                column for column in columns
                if column not in BOOKKEEPING_COLUMNS and not _same(earlier.get(column), row.get(column))
            ]  # fmt: skip
            if differing:
                shown = ", ".join(f"{column} {plain(earlier.get(column))} vs {plain(row.get(column))}" for column in differing[:4])
                raise DataError(
                    f"config {identifier} is in {earlier_label} and {label} with different results ({shown}); "
                    "keep one of the two tables' rows (or rerun that configuration) before merging"
                )
    return pd.DataFrame(merged, columns=columns)


def merge_into(out, tables) -> Path:
    """Merge ``tables`` with the study folder ``out``'s own table (if any) and write ``out/results.csv``.

    Example:
        >>> # merge_into("study", ["shard1/results.csv", "shard2/results.csv"])
    """
    path = Path(out) / RESULTS_FILE
    with locked(path):
        sources = ([path] if path.exists() else []) + [Path(table) for table in tables]
        for source in sources:
            if not source.exists():
                raise DataError(f"{source}: no such results table; expected a results.csv written by `study` "
                                "(a typo in the path?)")
            if source.is_dir() and not (source / RESULTS_FILE).is_file():
                found = ", ".join(sorted(entry.name for entry in source.iterdir())[:4]) or "nothing"
                raise DataError(f"{source}: a folder without {RESULTS_FILE} (it holds {found}); give a study folder "
                                f"written by `study`, or its {RESULTS_FILE}")
        merged = merge_tables(sources)
        if not len(merged):
            raise DataError(f"nothing to merge: {', '.join(str(source) for source in sources)} hold no runs; give the "
                            "results tables of studies that ran (an empty table is not written)")
        write_results(merged, path)
    return path
