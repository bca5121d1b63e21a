"""Published work the course sets its results against: one row per publication, as package data.

The table ships inside the package (``medcnn/related_work/related_work.csv``) so that
the chapter *What others have done* runs anywhere ``medcnn`` is installed, Colab
included, with no file of the repository beside the notebook. Edit that CSV to
correct or add an entry; empty fields mean "not confirmed from the publication".
"""

from __future__ import annotations

from importlib import resources

from medcnn.errors import DataError

COLUMNS = ["key", "first_author", "year", "group", "data", "task", "method", "evaluation", "result"]
GROUPS = {"previous work", "course dataset"}
FILE_NAME = "related_work.csv"


def load_related_work():
    """Return the related-work table as a pandas DataFrame (empty fields stay empty strings).

    Raises:
        medcnn.errors.DataError: the packaged CSV lacks a column, repeats a key or has an
            unknown ``group``; the message names the file and what to fix.

    Example:
        >>> table = load_related_work()
        >>> list(table.columns)[:4]
        ['key', 'first_author', 'year', 'group']
    """
    import pandas as pd

    resource = resources.files(__name__).joinpath(FILE_NAME)
    with resources.as_file(resource) as path:
        table = pd.read_csv(path, keep_default_na=False)
        shown = str(path)
    if list(table.columns) != COLUMNS:
        raise DataError(f"{shown}: columns are {list(table.columns)}; expected {COLUMNS}")
    repeated = sorted(table.loc[table["key"].duplicated(), "key"])
    if repeated:
        raise DataError(f"{shown}: the keys {repeated} appear more than once; each publication needs one row")
    unknown = sorted(set(table["group"]) - GROUPS)
    if unknown:
        raise DataError(f"{shown}: group {unknown} is not one of {sorted(GROUPS)}")
    return table
