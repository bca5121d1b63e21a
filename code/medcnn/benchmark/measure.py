"""Timing a ``fit`` epoch by epoch, and the facts about the machine a figure needs beside it.

Throughput is images per second of the fastest timed epoch: the first epoch of
every measurement is a warm-up (it compiles the step, starts the worker threads,
fills the caches) and is reported separately, never counted; among the timed
epochs the fastest is the one least disturbed by other work on the machine
(interference only ever slows an epoch down), and the mean over them is kept beside it. An epoch ends
when Keras has turned its metrics into Python numbers, which waits for the
device, so asynchronous dispatch cannot flatter a figure.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from dataclasses import asdict, dataclass, field

import keras

from medcnn.errors import ConfigError


@dataclass(frozen=True)
class Throughput:
    """One measured path.

    Attributes:
        images_per_second: images per epoch divided by the fastest timed epoch's wall-clock time.
        images_per_epoch: images one epoch trains on.
        mean_images_per_second: images in all timed epochs divided by their total time.
        epoch_seconds: the wall-clock time of each timed epoch.
        warmup_seconds: the first epoch's time (compilation and start-up included).
        setup_seconds: one-off work before the epochs that this path needs
            (computing the cached features, for example); 0 when none.

    Example:
        >>> Throughput(100.0, 50, 100.0, [0.5, 0.5], 3.0).as_dict()["images_per_second"]
        100.0
    """

    images_per_second: float
    images_per_epoch: int
    mean_images_per_second: float = 0.0
    epoch_seconds: list = field(default_factory=list)
    warmup_seconds: float = 0.0
    setup_seconds: float = 0.0

    def as_dict(self) -> dict:
        """The fields as a plain dictionary (for JSON)."""
        return asdict(self)


class EpochClock(keras.callbacks.Callback):
    """A Keras callback that records each epoch's wall-clock seconds.

    It defines only epoch hooks, so Keras keeps dispatching steps asynchronously.

    Example:
        >>> clock = EpochClock()
        >>> model.fit(batches, epochs=3, callbacks=[clock], verbose=0)  # doctest: +SKIP
        >>> len(clock.seconds)  # doctest: +SKIP
        3
    """

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def timed_fit(model, data, *, images_per_epoch: int, epochs: int = 2, setup_seconds: float = 0.0) -> Throughput:
    """Fit ``model`` on ``data`` for one warm-up epoch plus ``epochs`` timed ones; return the throughput.

    Args:
        model: a compiled Keras model.
        data: what ``fit`` takes (a ``keras.utils.PyDataset`` here).
        images_per_epoch: how many images one epoch trains on.
        epochs: timed epochs after the warm-up.
        setup_seconds: one-off cost to record beside the figure.

    Example:
        >>> throughput = timed_fit(model, batches, images_per_epoch=256, epochs=2)  # doctest: +SKIP
        >>> throughput.images_per_second > 0  # doctest: +SKIP
        True
    """
    if epochs < 1:
        raise ConfigError(f"epochs={epochs}: expected at least one timed epoch after the warm-up")
    clock = EpochClock()
    model.fit(data, epochs=epochs + 1, callbacks=[clock], verbose=0, shuffle=False)
    timed = clock.seconds[1:]
    return Throughput(
        images_per_second=round(images_per_epoch / min(timed), 3),
        images_per_epoch=int(images_per_epoch),
        mean_images_per_second=round(images_per_epoch * len(timed) / sum(timed), 3),
        epoch_seconds=[round(value, 4) for value in timed],
        warmup_seconds=round(clock.seconds[0], 4),
        setup_seconds=round(setup_seconds, 4),
    )


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict:
    """What a benchmark figure depends on: machine, CPU cores and load, backend and versions.

    Example:
        >>> facts = machine_facts()
        >>> sorted(facts)[:3]
        ['backend', 'cpu', 'cpu_cores']
    """
    backend = keras.backend.backend()
    backend_distribution = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend)
    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        backend_distribution: _version(backend_distribution) or _version(f"{backend_distribution}-cpu"),
        "numpy": _version("numpy"),
        "pillow": _version("pillow"),
        "medcnn": _version("medcnn"),
    }
    if backend == "tensorflow" and versions["tensorflow"] is None:
        versions["tensorflow"] = _version("tensorflow-cpu")
    try:
        load = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "backend": backend,
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "load_average_1_5_15_min": load,
        "platform": platform.platform(),
        "versions": versions,
    }
