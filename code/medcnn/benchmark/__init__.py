"""Speed you can measure: ``python -m medcnn bench``.

Measures, in one process on the current machine, how many images per second
train through each of four paths, and reports them as ratios:

1. model-only: the training step on one batch already on the device, repeated (the ceiling);
2. pipeline: medcnn's own path (decoded-once memmap cache → ``ArrayBatches`` → ``fit``),
   with a frozen backbone and with every layer trainable;
3. decode-every-epoch: the study's approach, every PNG decoded and resized with PIL
   on every epoch in a ``PyDataset`` with worker threads;
4. cached features: the frozen-backbone stage trained on the backbone's outputs
   computed once, against recomputing the backbone every epoch.

Submodules: ``source_images`` (synthetic PNGs at the datasets' size), ``measure``
(timing and machine facts), ``decode_baseline``, ``pipelines`` (the four paths),
``suite`` (one backbone through all of them), ``report`` (ratios, targets, table,
JSON) and ``cli`` (the ``bench`` subcommand). Nothing is imported here.

Example:
    >>> from medcnn.benchmark.cli import register  # doctest: +SKIP
"""
