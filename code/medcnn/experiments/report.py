"""A study's results in the study's layouts, beside its published figures, and its bar charts.

- :func:`stage_results`: the rows of one stage on one dataset, in the stage's order
  (stages 3 and 4 with the configuration they start from, as "before");
- :func:`study_layout`: those rows as the study printed them (per model and batch size,
  per learning rate, before/after): precision, recall and F1 (macro averages), accuracy,
  images correct, incorrect and in all; with several seeds, means and standard deviations;
- :func:`side_by_side`: each reproduced figure with the published one and their
  difference, where the study's figure is in :mod:`medcnn.experiments.published`
  (the difference is left empty where it is not);
- :func:`compare_best`: the reproduction's best configuration per dataset beside the study's;
- :func:`plot_metric_by_batch_size`, :func:`plot_metric_by_learning_rate`: the study's bar charts;
- :func:`markdown` renders any of these tables, ``mean ± std`` where there are several seeds.

Example:
    >>> from medcnn.experiments.report import study_layout, stage_results
    >>> from medcnn.experiments.results import read_results
    >>> table = study_layout(stage_results(read_results("study"), stage=1, dataset="retina"), stage=1)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from medcnn.errors import DataError
from medcnn.evaluation.figures import new_figure, set_title
from medcnn.evaluation.markdown import markdown_table
from medcnn.experiments.published import KEY_COLUMNS, load_published_results
from medcnn.experiments.results import COMPLETED, config_from_row, config_id
from medcnn.experiments.select import DEFAULT_SELECT_ON, select_winner, summarize_settings
from medcnn.experiments.stages import (
    STUDY_DATASETS,
    STUDY_STAGES,
    StudySettings,
    describe_setting,
    get_stage,
    stage_configs,
)
from medcnn.models.backbones import display_name
from medcnn.profiles import PROFILES

LAYOUT_METRICS = {
    "precision_macro": "precision",
    "recall_macro": "recall",
    "f1_macro": "F1",
    "accuracy": "accuracy",
    "correct": "correct",
    "incorrect": "incorrect",
    "total": "total",
}


def settings_of(rows: pd.DataFrame) -> StudySettings:
    """The :class:`StudySettings` a dataset's results rows were run with (their first row's, all their seeds).

    Example:
        >>> settings_of(read_results("study")).profile  # doctest: +SKIP
        'smoke'
    """
    first = config_from_row(rows.iloc[0])
    profile = PROFILES[first.profile]  # the recorded runs' profile as defined, not this session's environment

    def own(value, profiles_value, left_open=None):
        # a value equal to the profile's was left to the profile (image sizes differ per backbone)
        return left_open if value == profiles_value else value

    return StudySettings(
        profile=first.profile, seeds=tuple(sorted({int(seed) for seed in rows["seed"]})),
        epochs=own(first.epochs, profile.epochs),
        image_size=own(first.image_size, profile.image_size_for(first.backbone)),
        fine_tune_epochs=own(first.fine_tune_epochs, profile.fine_tune_epochs),
        weights=own(first.weights, profile.weights, "profile"), feature_cache=first.feature_cache,
        resolved_profile=profile,
    )


def _rows_by_id(rows: pd.DataFrame, configs) -> pd.DataFrame:
    """The rows of ``configs`` present in ``rows``, found by config id, in the configs' order."""
    indexed = rows.drop_duplicates("config_id").set_index("config_id", drop=False)
    present = [identifier for identifier in (config_id(config) for config in configs) if identifier in indexed.index]
    return indexed.loc[present].reset_index(drop=True)


def stage_results(results: pd.DataFrame, *, stage: int, dataset: str, stages=STUDY_STAGES,
                  select_on: str = DEFAULT_SELECT_ON, settings: StudySettings | None = None) -> pd.DataFrame:
    """The rows of ``stage`` on ``dataset`` (all seeds), in the stage's order; empty if not run yet.

    The stage's runs are found by their config ids (:func:`medcnn.experiments.results.config_id`):
    the configurations :func:`medcnn.experiments.stages.stage_configs` gives for the stage,
    starting from the winner of the stage before among the rows present, picked by the
    ``select_on`` rule the study was run with (``"val"`` or ``"test"``, see
    :mod:`medcnn.experiments.select`). ``settings`` default to those the rows were run with
    (:func:`settings_of`). For stages that switch augmentation or fine-tuning on, the rows of
    the configuration they start from come first (``role`` ``"before"``; the stage's own rows
    have ``"after"``; stages 1 and 2 have ``"run"``). The runner finds a stage's runs the same way.

    Example:
        >>> rows = stage_results(read_results("study"), stage=2, dataset="covid19")  # doctest: +SKIP
        >>> rows["learning_rate"].unique().tolist()  # doctest: +SKIP
        [0.1, 0.01, 0.001, 0.0001, 1e-05]
    """
    definition = get_stage(stage, stages)
    rows = results[(results["dataset"] == dataset)]
    if rows.empty:
        return rows.assign(role=pd.Series(dtype=str))
    settings = settings or settings_of(rows)
    if definition.starts_from is None:
        found = _rows_by_id(rows, stage_configs(definition, dataset, settings=settings))
        return found.assign(role="run")
    earlier = stage_results(results, stage=definition.starts_from, dataset=dataset, stages=stages,
                            select_on=select_on, settings=settings)
    earlier = earlier[earlier["role"] != "before"]
    if earlier.empty:
        return earlier
    start = config_from_row(select_winner(earlier, select_on=select_on))
    own = _rows_by_id(rows, stage_configs(definition, dataset, settings=settings, start=start))
    if not (definition.augment or definition.fine_tune):
        return own.assign(role="run")
    before = _rows_by_id(rows, [dataclasses.replace(start, seed=seed) for seed in settings.seeds])
    return pd.concat([before.assign(role="before"), own.assign(role="after")], ignore_index=True)


def best_configuration(results: pd.DataFrame, *, dataset: str, stages=STUDY_STAGES,
                       select_on: str = DEFAULT_SELECT_ON) -> pd.Series | None:
    """The dataset's best run over the last stages (the stage-2 winner, with augmentation, with fine-tuning).

    ``None`` when stage 2 has no rows yet.

    Example:
        >>> best_configuration(read_results("study"), dataset="retina")["backbone"]  # doctest: +SKIP
        'vgg16'
    """
    candidates = []
    for stage in stages:
        rows = stage_results(results, stage=stage.number, dataset=dataset, stages=stages, select_on=select_on)
        if stage.starts_from is not None:
            candidates.append(rows)
    if not candidates or all(frame.empty for frame in candidates):
        return None
    rows = pd.concat(candidates, ignore_index=True).drop_duplicates("config_id")
    return select_winner(rows, select_on=select_on)


def study_layout(rows: pd.DataFrame, *, stage: int, stages=STUDY_STAGES) -> pd.DataFrame:
    """The study's table for one stage: one row per setting, the study's metric columns.

    Index: model and batch size (stage 1), learning rate (stage 2), or before/after
    (augmentation, fine-tuning). Columns: ``precision``, ``recall``, ``F1`` (macro
    averages), ``accuracy``, ``correct``, ``incorrect``, ``total``; ``seeds``; and with
    several seeds a ``<column> std`` beside each (standard deviation over seeds).

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"setting_id": ["a"], "seed": [0], "status": ["completed"], "backbone": ["vgg16"],
        ...     "batch_size": [32], "learning_rate": [1e-3], "augment": [False], "fine_tune": [False],
        ...     "precision_macro": [0.9], "recall_macro": [0.8], "f1_macro": [0.85], "accuracy": [0.9],
        ...     "correct": [90], "incorrect": [10], "total": [100], "role": ["run"]})
        >>> float(study_layout(rows, stage=1).loc[("VGG-16", 32), "accuracy"])
        0.9
    """
    definition = get_stage(stage, stages)
    if rows.empty:
        return pd.DataFrame(columns=list(LAYOUT_METRICS.values()))
    roles = rows.drop_duplicates("setting_id").set_index("setting_id")["role"]
    summary = summarize_settings(rows)
    several = summary["seeds"].max() > 1
    layout = pd.DataFrame()
    if definition.starts_from is None:
        layout["model"] = summary["backbone"].map(display_name)
        layout["batch size"] = summary["batch_size"].astype(int)
        index = ["model", "batch size"]
    elif not (definition.augment or definition.fine_tune):
        layout["learning rate"] = summary["learning_rate"].map(lambda value: f"{value:g}")
        index = ["learning rate"]
    else:
        change = "augmentation" if definition.augment else "fine-tuning"
        layout[change] = summary["setting_id"].map(lambda setting: "with" if roles[setting] == "after" else "without")
        index = [change]
    for column, title in LAYOUT_METRICS.items():
        layout[title] = summary[column].to_numpy() if column in summary else np.nan
        if several:
            layout[f"{title} std"] = summary.get(f"{column}_std", np.nan)
    layout["seeds"] = summary["seeds"].to_numpy()
    if summary["diverged"].any():
        layout["diverged"] = summary["diverged"].to_numpy()
    return layout.set_index(index)


def _published_value(published: pd.DataFrame, row, metric: str, class_name: str = ""):
    if published.empty:
        return None
    selected = published[
        (published["dataset"] == row["dataset"]) & (published["backbone"] == row["backbone"])
        & (published["batch_size"] == int(row["batch_size"]))
        & np.isclose(published["learning_rate"].astype(float), float(row["learning_rate"]), rtol=1e-6, atol=0)
        & (published["augment"] == bool(row["augment"])) & (published["fine_tune"] == bool(row["fine_tune"]))
        & (published["metric"] == metric) & (published["class_name"] == class_name)
        & (published["subset"].isin(["", "test"]))
    ]  # fmt: skip
    return None if selected.empty else selected.iloc[0]


def side_by_side(results: pd.DataFrame, *, published: pd.DataFrame | None = None, metrics=("accuracy",)) -> pd.DataFrame:
    """Every reproduced setting × metric beside the study's figure, and published figures not reproduced.

    Columns: the configuration (``dataset``, ``backbone``, ``batch_size``,
    ``learning_rate``, ``augment``, ``fine_tune``), ``class_name`` (empty: all
    classes), ``metric``, ``reproduced`` (mean over seeds), ``reproduced_std``,
    ``seeds``, ``published``, ``difference`` (reproduced − published; empty where the
    study's figure is not transcribed or the setting was not reproduced), ``table`` and
    ``source`` of the published figure.

    Args:
        results: a results table (see :mod:`medcnn.experiments.results`).
        published: the published figures (default: :func:`~medcnn.experiments.published.load_published_results`).
        metrics: the reproduced metrics to list for every setting; every metric the study
            published for a reproduced setting is listed too.

    Example:
        >>> table = side_by_side(read_results("study"))  # doctest: +SKIP
        >>> table.loc[table["published"].notna(), ["dataset", "reproduced", "published", "difference"]]  # doctest: +SKIP
    """
    published = load_published_results() if published is None else published
    summary = summarize_settings(results[results["status"] == COMPLETED]) if not results.empty else pd.DataFrame()
    records, matched = [], set()
    for _, row in summary.iterrows():
        wanted = [(metric, "") for metric in metrics]
        if not published.empty:
            same = published[(published["dataset"] == row["dataset"]) & (published["backbone"] == row["backbone"])]
            wanted += [(metric, class_name) for metric, class_name in zip(same["metric"], same["class_name"])]
        for metric, class_name in dict.fromkeys(wanted):
            column = f"class.{class_name}.{metric}" if class_name else metric
            reproduced = row.get(column, np.nan)
            figure = _published_value(published, row, metric, class_name)
            if figure is None and class_name:
                continue
            if figure is not None:
                matched.add(figure.name)
            value = np.nan if figure is None else float(figure["value"])
            records.append({
                **{column_name: row[column_name] for column_name in KEY_COLUMNS},
                "class_name": class_name, "metric": metric, "reproduced": reproduced,
                "reproduced_std": row.get(f"{column}_std", np.nan), "seeds": int(row["seeds"]),
                "published": value,
                "difference": reproduced - value if not (math.isnan(value) or pd.isna(reproduced)) else np.nan,
                "table": "" if figure is None else figure["table"], "source": "" if figure is None else figure["source"],
            })  # fmt: skip
    for position, figure in published.iterrows():
        if position in matched:
            continue
        records.append({
            **{column_name: figure[column_name] for column_name in KEY_COLUMNS},
            "class_name": figure["class_name"], "metric": figure["metric"], "reproduced": np.nan,
            "reproduced_std": np.nan, "seeds": 0, "published": float(figure["value"]), "difference": np.nan,
            "table": figure["table"], "source": figure["source"],
        })  # fmt: skip
    columns = [*KEY_COLUMNS, "class_name", "metric", "reproduced", "reproduced_std", "seeds", "published",
               "difference", "table", "source"]
    return pd.DataFrame(records, columns=columns)


def compare_best(results: pd.DataFrame, *, published: pd.DataFrame | None = None, stages=STUDY_STAGES,
                 datasets=STUDY_DATASETS, select_on: str = DEFAULT_SELECT_ON) -> pd.DataFrame:
    """Per dataset: the study's best configuration and test accuracy beside the reproduction's.

    Columns ``published configuration``, ``published accuracy``, ``reproduced
    configuration``, ``reproduced accuracy`` (mean over seeds), ``same configuration``
    and ``difference`` (reproduced − published accuracy). The study picked its winners
    on the test subset; ``select_on`` is the rule the reproduction was run with.

    Example:
        >>> compare_best(read_results("study"))  # doctest: +SKIP
    """
    published = load_published_results() if published is None else published
    best_rows = published[published["best"].astype(bool) & (published["metric"] == "accuracy")
                          & (published["class_name"] == "")]  # Tabla 5.8's winners
    records = []
    for dataset in datasets:
        record = {"dataset": dataset}
        figure = best_rows[best_rows["dataset"] == dataset]
        if not figure.empty:
            figure = figure.iloc[0]
            record["published configuration"] = describe_setting(figure)
            record["published accuracy"] = float(figure["value"])
        winner = (best_configuration(results, dataset=dataset, stages=stages, select_on=select_on)
                  if not results.empty else None)
        if winner is not None:
            seeds = results[results["setting_id"] == winner["setting_id"]]
            record["reproduced configuration"] = describe_setting(winner)
            record["reproduced accuracy"] = float(pd.to_numeric(seeds["accuracy"], errors="coerce").mean())
            record["seeds"] = int(len(seeds))
        if "published configuration" in record and "reproduced configuration" in record:
            record["same configuration"] = record["published configuration"] == record["reproduced configuration"]
            record["difference"] = record["reproduced accuracy"] - record["published accuracy"]
        records.append(record)
    columns = ["dataset", "published configuration", "published accuracy", "reproduced configuration",
               "reproduced accuracy", "seeds", "same configuration", "difference"]
    return pd.DataFrame(records).reindex(columns=columns).set_index("dataset")


def _number(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and float(value).is_integer() and abs(value) >= 1):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(table: pd.DataFrame, *, digits: int = 3) -> str:
    """Render a report table as Markdown; ``<column> std`` / ``reproduced_std`` become ``mean ± std``.

    Empty cells (no published figure, no difference) stay empty.

    Example:
        >>> import pandas as pd
        >>> print(markdown(pd.DataFrame({"accuracy": [0.9], "accuracy std": [0.01]}, index=pd.Index(["a"], name="x"))))
        | x | accuracy |
        |:--|--:|
        | a | 0.900 ± 0.010 |
    """
    frame = table.reset_index() if any(name is not None for name in table.index.names) else table
    pairs = {f"{column} std": column for column in frame.columns}
    pairs["reproduced_std"] = "reproduced"
    shown = [column for column in frame.columns if column not in pairs or pairs[column] not in frame.columns]
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column in shown:
            value = row[column]
            text = f"{float(value):g}" if column == "learning_rate" and not pd.isna(value) else _number(value, digits)
            spread = f"{column} std" if f"{column} std" in frame.columns else ("reproduced_std" if column == "reproduced" else None)
            if spread in frame.columns and text and _number(row[spread], digits):
                text += f" ± {_number(row[spread], digits)}"
            cells.append(text)
        rows.append(cells)
    return markdown_table([str(column) for column in shown], rows)


def _bars(figure, groups, series, values, spreads, published, *, xlabel, ylabel):
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(series))
    positions = np.arange(len(groups))
    for number, name in enumerate(series):
        heights = [values.get((group, name), np.nan) for group in groups]
        errors = [spreads.get((group, name), np.nan) for group in groups]
        offset = positions - 0.4 + width * (number + 0.5)
        errors = None if all(math.isnan(error) for error in errors) else [0 if math.isnan(e) else e for e in errors]
        axes.bar(offset, heights, width, yerr=errors, capsize=3, label=str(name))
        marks = [published.get((group, name), np.nan) for group in groups]
        if not all(math.isnan(mark) for mark in marks):
            axes.plot(offset, marks, linestyle="none", marker="D", color="black", markersize=5,
                      label="published" if number == 0 else None)
    axes.set_xticks(positions, [str(group) for group in groups])
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.legend(fontsize="small")
    return axes


def _published_marks(published, rows, metric, key):
    marks = {}
    if published is None or published.empty:
        return marks
    for _, row in rows.drop_duplicates("setting_id").iterrows():
        figure = _published_value(published, row, metric)
        if figure is not None:
            marks[key(row)] = float(figure["value"])
    return marks


def plot_metric_by_batch_size(results: pd.DataFrame, *, dataset: str, metric: str = "accuracy", published=None,
                              stages=STUDY_STAGES, title: str | None = None, note: str | None = None,
                              select_on: str = DEFAULT_SELECT_ON):
    """The study's stage-1 chart: ``metric`` by batch size, one bar per model (± std over seeds).

    Published figures, where transcribed, are black diamonds on their bars.

    Example:
        >>> figure = plot_metric_by_batch_size(read_results("study"), dataset="covid19")  # doctest: +SKIP
    """
    rows = stage_results(results, stage=1, dataset=dataset, stages=stages, select_on=select_on)
    if rows.empty:
        raise DataError(f"no stage-1 results for {dataset}: run `study --dataset {dataset} --stage 1` first")
    summary = summarize_settings(rows)
    key = lambda row: (int(row["batch_size"]), display_name(row["backbone"]))  # noqa: E731
    values = {key(row): row[metric] for _, row in summary.iterrows()}
    spreads = {key(row): row.get(f"{metric}_std", np.nan) for _, row in summary.iterrows()}
    published = load_published_results() if published is None else published
    groups = sorted({group for group, _ in values})
    series = list(dict.fromkeys(name for _, name in values))
    figure = new_figure(7, 4)
    _bars(figure, groups, series, values, spreads, _published_marks(published, rows, metric, key),
          xlabel="batch size", ylabel=metric.replace("_", " "))
    set_title(figure, f"Stage 1 on {dataset}: test {metric.replace('_', ' ')} by batch size and model", title, note)
    return figure


def plot_metric_by_learning_rate(results: pd.DataFrame, *, dataset: str, metric: str = "accuracy", published=None,
                                 stages=STUDY_STAGES, title: str | None = None, note: str | None = None,
                                 select_on: str = DEFAULT_SELECT_ON):
    """The study's stage-2 chart: ``metric`` of the stage-1 winner by initial learning rate (± std over seeds).

    Example:
        >>> figure = plot_metric_by_learning_rate(read_results("study"), dataset="covid19")  # doctest: +SKIP
    """
    rows = stage_results(results, stage=2, dataset=dataset, stages=stages, select_on=select_on)
    if rows.empty:
        raise DataError(f"no stage-2 results for {dataset}: run `study --dataset {dataset} --stage 2` first")
    summary = summarize_settings(rows)
    name = describe_setting(summary.iloc[0]).split(", lr")[0]
    key = lambda row: (f"{float(row['learning_rate']):g}", name)  # noqa: E731
    values = {key(row): row[metric] for _, row in summary.iterrows()}
    spreads = {key(row): row.get(f"{metric}_std", np.nan) for _, row in summary.iterrows()}
    published = load_published_results() if published is None else published
    groups = list(dict.fromkeys(group for group, _ in values))
    figure = new_figure(7, 4)
    _bars(figure, groups, [name], values, spreads, _published_marks(published, rows, metric, key),
          xlabel="initial learning rate", ylabel=metric.replace("_", " "))
    set_title(figure, f"Stage 2 on {dataset}: test {metric.replace('_', ' ')} by learning rate", title, note)
    return figure
