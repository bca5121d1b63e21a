"""Markdown tables for run reports and book chapters.

Example:
    >>> print(markdown_table(["metric", "value"], [["accuracy", "0.91"]]))
    | metric | value |
    |:--|--:|
    | accuracy | 0.91 |
"""

from __future__ import annotations

import math

import pandas

COUNT_COLUMNS = ("support", "correct", "incorrect")


def _cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header, rows, *, align_first_left: bool = True) -> str:
    """Render a pipe table: the first column left-aligned, the others right-aligned.

    Example:
        >>> print(markdown_table(["a", "b"], [[1, 2]]).splitlines()[1])
        |:--|--:|
    """
    header = [_cell(value) for value in header]
    alignment = [":--" if align_first_left and position == 0 else "--:" for position in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(alignment) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(value) for value in row) + " |")
    return "\n".join(lines)


def format_classification_table(table: pandas.DataFrame, *, digits: int = 3) -> str:
    """Render :func:`medcnn.evaluation.metrics.classification_table` as a Markdown table.

    Scores get ``digits`` decimals, counts are whole numbers, empty cells stay empty.

    Example:
        >>> from medcnn.evaluation.metrics import classification_table
        >>> text = format_classification_table(classification_table([0, 1, 1], [0, 1, 0], ["a", "b"]))
        >>> print(text.splitlines()[2])
        | a | 0.500 | 1.000 | 0.667 | 1 | 1 | 0 |  |
    """
    if not isinstance(table, pandas.DataFrame):
        raise TypeError(f"table is a {type(table).__name__}: expected the DataFrame from classification_table")
    header = [table.index.name or ""] + [str(column) for column in table.columns]
    rows = []
    for name, values in table.iterrows():
        row = [name]
        for column, value in values.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                row.append("")
            elif column in COUNT_COLUMNS:
                row.append(f"{int(round(float(value)))}")
            else:
                row.append(f"{float(value):.{digits}f}")
        rows.append(row)
    return markdown_table(header, rows)


def format_confusion_matrix(counts, class_names) -> str:
    """Render confusion-matrix counts as a Markdown table (rows true, columns predicted).

    Example:
        >>> print(format_confusion_matrix([[3, 1], [0, 4]], ["a", "b"]).splitlines()[2])
        | a | 3 | 1 |
    """
    names = [str(name) for name in class_names]
    header = ["true \\ predicted"] + names
    rows = [[names[position]] + [int(value) for value in row] for position, row in enumerate(counts)]
    return markdown_table(header, rows)
