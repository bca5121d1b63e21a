"""Several GPUs on one machine: data-parallel training through Keras's own distribution API.

On the JAX backend :class:`keras.distribution.DataParallel` keeps one copy of the
model on each device and splits every batch between them; Keras averages the
gradients. Nothing else in ``medcnn`` changes: the distribution is set once, before
any model is built, and applies to every run of the study.

On TensorFlow, Keras 3's distribution API is not available; data parallelism there
needs ``tf.distribute.MirroredStrategy`` around model building, which ``medcnn``
does not do (it stays backend-agnostic and uses no ``tf.*``): on a machine with
several GPUs, install JAX and set ``KERAS_BACKEND=jax`` to use them all.

Each batch is split evenly, so the batch size must be a multiple of the number of
devices (the study's 32-256 are, for 2, 4 or 8 GPUs).

Example:
    >>> from medcnn.experiments.parallel import configure_data_parallel
    >>> configure_data_parallel("off")
    (1, 'data parallelism off: one device')
"""

from __future__ import annotations

from medcnn.errors import ConfigError

DATA_PARALLEL_CHOICES = ("auto", "on", "off")


def _devices(kind: str) -> list:
    import keras

    try:
        return list(keras.distribution.list_devices(kind))
    except (RuntimeError, ValueError):
        return []


def configure_data_parallel(mode: str = "auto") -> tuple[int, str]:
    """Set data parallelism for the rest of the process; return ``(devices, reason)``.

    Args:
        mode: ``"auto"``: over all GPUs when the backend is JAX and there are two or more;
            ``"on"``: over all of the backend's devices (GPUs, else TPU cores, else the
            CPU devices JAX was asked to make, useful for tests), an error if it cannot;
            ``"off"``: one device.

    Example:
        >>> configure_data_parallel("auto")  # doctest: +SKIP
        (4, 'data parallel over 4 gpu devices (keras.distribution.DataParallel on JAX)')
    """
    if mode not in DATA_PARALLEL_CHOICES:
        raise ConfigError(f"data_parallel={mode!r}: expected one of {', '.join(DATA_PARALLEL_CHOICES)}")
    if mode == "off":
        return 1, "data parallelism off: one device"
    import keras

    backend = keras.backend.backend()
    if backend != "jax":
        if mode == "on":
            raise ConfigError(
                f"data parallelism needs the JAX backend (this is {backend}): "
                "install jax and set KERAS_BACKEND=jax, or use --data-parallel off"
            )
        return 1, f"{backend} backend: one device (several GPUs are used on JAX: set KERAS_BACKEND=jax)"
    for kind in ("gpu", "tpu") + (("cpu",) if mode == "on" else ()):
        devices = _devices(kind)
        if len(devices) >= 2:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
            return len(devices), f"data parallel over {len(devices)} {kind} devices (keras.distribution.DataParallel on JAX)"
    if mode == "on":
        raise ConfigError("--data-parallel on: fewer than two devices are visible, so there is nothing to share")
    return 1, "one device"


def check_batch_size(batch_size: int, devices: int) -> None:
    """Refuse a batch size that cannot be split evenly over ``devices``.

    Example:
        >>> check_batch_size(64, 4)
    """
    if devices > 1 and batch_size % devices:
        raise ConfigError(
            f"batch_size={batch_size} cannot be split over {devices} devices: "
            f"use a multiple of {devices}, or --data-parallel off"
        )
