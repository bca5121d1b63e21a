"""Reading CSV tables back without trusting them: every row complete, every number a number.

Manifests and results tables are written by medcnn, but a person may edit them, and a
killed copy may cut one short. :func:`read_checked_csv` names the file and the line of a
row with the wrong number of fields, and of a value that is not a number where one belongs,
instead of letting pandas fill the gap with NaN or fail with its parser's message.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.csv"
    >>> _ = path.write_text("seed,accuracy\\n0,0.9\\n1,high\\n")
    >>> read_checked_csv(path, what="results table", numeric=("accuracy",), fix="rerun it")
    Traceback (most recent call last):
    ...
    medcnn.errors.DataError: ...results.csv: line 3, column 'accuracy': 'high' is not a number (a damaged or hand-edited results table); rerun it
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from medcnn.errors import DataError


def read_checked_csv(path, *, what: str, fix: str, numeric=(), integer=(), **options) -> pd.DataFrame:
    """Read a CSV table, refusing rows of the wrong length and non-numbers in ``numeric``/``integer`` columns.

    Args:
        path: the CSV file.
        what: what the table is, for messages (``"manifest"``, ``"results table"``).
        fix: the way out, ending the message.
        numeric: columns whose non-empty values must be numbers.
        integer: columns whose non-empty values must be whole numbers.
        **options: passed to :func:`pandas.read_csv`.

    Raises:
        DataError: the file is empty, not text, or has a bad row (its line is named).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.csv"
        >>> _ = path.write_text("path,label\\na.png,0\\n")
        >>> read_checked_csv(path, what="manifest", fix="split again", integer=("label",))["label"].tolist()
        [0]
    """
    path = Path(path)
    damaged = f"(a damaged or hand-edited {what})"
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = next(rows, None)
            if not header:
                raise DataError(f"{path}: empty {what} (truncated?); {fix}")
            for row in rows:
                if row and len(row) != len(header):
                    raise DataError(f"{path}: line {rows.line_num} has {len(row)} fields, the header has "
                                    f"{len(header)} {damaged}; {fix}")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not a text {what} ({error}) {damaged}; {fix}") from None
    except csv.Error as error:
        raise DataError(f"{path}: cannot be read as CSV ({error}) {damaged}; {fix}") from None
    try:
        frame = pd.read_csv(path, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise DataError(f"{path}: cannot be read as CSV ({str(error).strip()}) {damaged}; {fix}") from None
    for column in (*numeric, *integer):
        if column not in frame.columns:
            continue
        text = frame[column].astype(str).str.strip()
        present = frame[column].notna() & (text != "") & (text.str.lower() != "nan")
        numbers = pd.to_numeric(frame[column].where(present), errors="coerce")
        bad = present & numbers.isna()
        if column in integer:
            bad |= present & numbers.notna() & (numbers != numbers.round())
        if bad.any():
            position = int(bad.to_numpy().nonzero()[0][0])
            kind = "a whole number" if column in integer else "a number"
            raise DataError(f"{path}: line {position + 2}, column {column!r}: {frame[column].iloc[position]!r} is "
                            f"not {kind} {damaged}; {fix}")
    return frame
