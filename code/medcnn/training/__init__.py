"""Training the study's classifiers: precision, compilation, callbacks, cached features, fitting.

Submodules:
    precision: ``configure_precision`` (float32 on CPU, mixed bfloat16/float16 on GPUs) and the jit choice.
    compile: ``compile_classifier`` (Adam, binary or categorical cross-entropy, accuracy).
    callbacks: ``study_callbacks`` (early stopping, learning-rate reduction, checkpoint, history.csv).
    features: the frozen-backbone shortcut: compute backbone outputs once, train only the head.
    fit: ``train_classifier`` and ``fine_tune_classifier``.
    errors: ``TrainingError``.

Example:
    >>> from medcnn.training.fit import train_classifier  # doctest: +SKIP
"""
