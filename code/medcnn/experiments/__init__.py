"""The study, reproducible: its four stages as data, a resumable runner, winners, shards and reports.

The study tuned one choice at a time on each dataset, carrying the best value into
the next stage: 1 batch size (three backbones × four batch sizes), 2 learning rate,
3 augmentation, 4 fine-tuning. This package runs those stages with
:func:`medcnn.pipeline.train_and_evaluate` and keeps one row per finished run in a
results table (``<out>/results.csv``), so a study can be stopped, resumed, split
over machines and compared with the study's published figures.

Modules (nothing is imported until used):

- :mod:`~medcnn.experiments.stages`: the stages as data and the configurations they run;
- :mod:`~medcnn.experiments.results`: the results table (config ids, rows, atomic appends);
- :mod:`~medcnn.experiments.runner`: run one configuration, or whole stages, resumably;
- :mod:`~medcnn.experiments.select`: the winners (on the validation subset by default; on the
  test subset, as the study did, with ``--select-on test``);
- :mod:`~medcnn.experiments.shard`: a deterministic 1/N of a stage, and merging tables;
- :mod:`~medcnn.experiments.parallel`: data-parallel training over several GPUs (JAX);
- :mod:`~medcnn.experiments.published`: the study's published tables, as CSV data, with
  their misprints listed; :func:`published_table` quotes a dataset's per-class results;
- :mod:`~medcnn.experiments.published_charts`: those tables in the study's layouts and as
  charts, with 95 % intervals from the published counts;
- :mod:`~medcnn.experiments.report`: the study's table layouts, side by side with the
  published figures, and its bar charts;
- :mod:`~medcnn.experiments.cli`: the ``study`` and ``study-merge`` commands.

Example:
    >>> from medcnn.experiments.stages import STUDY_STAGES
    >>> [stage.name for stage in STUDY_STAGES]
    ['batch size', 'learning rate', 'augmentation', 'fine-tuning']
"""


def published_table(dataset: str, **options):
    """The study's per-class test results for ``dataset``'s best configuration (see
    :func:`medcnn.experiments.published.published_table`).

    Example:
        >>> from medcnn.experiments import published_table
        >>> float(published_table(dataset="covid19").loc["covid", "recall"])
        0.974
    """
    from medcnn.experiments.published import published_table as table

    return table(dataset, **options)
