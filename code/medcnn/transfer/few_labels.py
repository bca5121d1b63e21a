"""The few-label experiment: what a pretrained backbone buys when only N labelled images per class exist.

For each seed, a pool of labelled slices is drawn (:mod:`medcnn.transfer.lesions`)
and its first N images of each class form the training set (so the set for N = 5
is inside the one for N = 10); every variant is tested on the same 100 slices per
class. The variants (:data:`VARIANTS`):

- ``scratch``: the whole network trained from random weights;
- ``frozen``: the pretrained backbone frozen, a new softmax head trained on its
  features (computed once and cached: a frozen backbone gives the same features
  at every epoch);
- ``fine-tuned``: then the second half unfrozen and trained with the head at a
  low learning rate (1e-4), batch normalisation kept in inference mode;
- controls and depth: the same with an unrelated source, with batch
  normalisation in training mode, with discriminative learning rates, with
  gradual unfreezing, and a Flatten head instead of global average pooling.

Every training run takes a fixed number of optimiser steps that grows with the
training set (``epochs`` passes, at least ``minimum_steps``), in batches of
constant size (small sets are repeated), so one compiled model serves every
run: between runs its weights and its optimiser's state are put back.

Example:
    >>> frame = run_experiment(variants=("scratch", "frozen"), per_class=(5, 50), seeds=(0, 1))  # doctest: +SKIP
    >>> summarise(frame).loc[("frozen", 5), "mean"] > summarise(frame).loc[("scratch", 5), "mean"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medcnn.errors import ConfigError
from medcnn.transfer.lesions import CLASS_NAMES, make_lesion_data
from medcnn.transfer.network import build_backbone, build_head, set_trainable
from medcnn.transfer.pretrained import load_backbone


@dataclass(frozen=True)
class Variant:
    """One way of training on the target task.

    Attributes:
        label: what tables and charts call it.
        start: ``"scratch"`` (random weights), ``"frozen"`` (pretrained backbone, new head only)
            or ``"fine-tune"`` (the frozen variant's head, then the second half trained too).
        source: the source task of the pretrained weights (``"shapes"`` or ``"ramps"``).
        head: ``"average"`` or ``"flatten"``.
        batch_norm: ``"inference"`` or ``"training"`` mode for the unfrozen half's batch normalisation.
        backbone_rate, head_rate: learning rates of the unfrozen half and of the head.
        gradual: unfreeze the last block first (half the steps), then the whole second half.
    """

    label: str
    start: str
    source: str = "shapes"
    head: str = "average"
    batch_norm: str = "inference"
    backbone_rate: float = 1e-4
    head_rate: float = 1e-4
    gradual: bool = False


VARIANTS = {
    "scratch": Variant("from scratch", "scratch", source="none", backbone_rate=2e-3, head_rate=2e-3),
    "frozen": Variant("frozen + new head", "frozen"),
    "fine-tuned": Variant("fine-tuned (second half, 1e-4)", "fine-tune"),
    "frozen, unrelated source": Variant("frozen, unrelated source", "frozen", source="ramps"),
    "fine-tuned, unrelated source": Variant("fine-tuned, unrelated source", "fine-tune", source="ramps"),
    "fine-tuned, batch norm training": Variant("fine-tuned, batch norm in training mode", "fine-tune",
                                               batch_norm="training"),
    "discriminative rates": Variant("discriminative rates (head 1e-3, second half 1e-4)", "fine-tune",
                                    head_rate=1e-3),
    "gradual unfreezing": Variant("gradual unfreezing (last block, then the second half)", "fine-tune",
                                  gradual=True),
    "frozen, flatten head": Variant("frozen + Flatten head", "frozen", head="flatten"),
}
MAIN_VARIANTS = ("scratch", "frozen", "fine-tuned")


def training_steps(count: int, *, epochs: int = 10, batch_size: int = 32, minimum_steps: int = 100) -> int:
    """Optimiser steps for a training set of ``count`` images: ``epochs`` passes, at least ``minimum_steps``.

    Example:
        >>> training_steps(20), training_steps(800)
        (100, 250)
    """
    return max(int(minimum_steps), int(np.ceil(epochs * count / batch_size)))


def training_order(count: int, steps: int, *, batch_size: int = 32, seed: int = 0) -> np.ndarray:
    """Indices of ``steps`` full batches: shuffled passes over ``count`` images, one after another.

    Example:
        >>> order = training_order(20, 3, batch_size=32, seed=0)
        >>> len(order), sorted(set(order.tolist())) == list(range(20))
        (96, True)
    """
    rng = np.random.default_rng(seed)
    needed = steps * batch_size
    passes = [rng.permutation(count) for _ in range(-(-needed // count))]
    return np.concatenate(passes)[:needed]


def first_per_class(labels, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` images of each class, in the pool's order.

    Example:
        >>> first_per_class(np.array([0, 1, 0, 1, 0, 1]), 2).tolist()
        [0, 1, 2, 3]
    """
    labels = np.asarray(labels)
    chosen = [np.flatnonzero(labels == label)[:per_class] for label in np.unique(labels)]
    if min(len(indices) for indices in chosen) < per_class:
        raise ConfigError(f"per_class={per_class}: the pool has fewer images of some class")
    return np.sort(np.concatenate(chosen))


def _discriminative_adam(backbone, *, head_rate: float, backbone_rate: float):
    """An Adam that steps ``backbone``'s variables at ``backbone_rate`` and every other variable at ``head_rate``.

    Keras has no per-layer learning rate; Adam's update for each variable receives
    the learning rate, so a subclass scales it for the backbone's variables.
    """
    import keras

    backbone_ids = {id(variable) for variable in backbone.weights}

    class DiscriminativeAdam(keras.optimizers.Adam):
        def build(self, variables):
            self.rate_factors = [backbone_rate / head_rate if id(variable) in backbone_ids else 1.0
                                 for variable in variables]
            super().build(variables)

        def update_step(self, gradient, variable, learning_rate):
            factor = self.rate_factors[self._get_variable_index(variable)]
            return super().update_step(gradient, variable, learning_rate * factor)

    return DiscriminativeAdam(learning_rate=head_rate)


class _Trainer:
    """A compiled model whose weights and optimiser state are put back before each run."""

    def __init__(self, model, optimizer):
        import keras

        self.model = model
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=False)
        optimizer.build(model.trainable_variables)
        self.optimizer_state = [keras.ops.convert_to_numpy(variable) for variable in optimizer.variables]

    def fit(self, weights, inputs, labels, order, *, batch_size: int = 32):
        self.model.set_weights(weights)
        for variable, value in zip(self.model.optimizer.variables, self.optimizer_state):
            variable.assign(value)
        self.model.fit(inputs[order], labels[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)


def _unfreezer(upper, stage: str, batch_norm: str):
    """A function that sets ``upper``'s trainable layers for ``stage``: the last block, or the whole second half."""

    def unfreeze():
        set_trainable(upper, trainable=True, batch_norm=batch_norm)
        if stage == "last block":
            for layer in upper.layers:
                if not layer.name.endswith("_4"):
                    layer.trainable = False

    return unfreeze


def _accuracy(model, inputs, labels) -> float:
    import keras

    probabilities = keras.ops.convert_to_numpy(model(inputs, training=False))
    return float((probabilities.argmax(axis=1) == labels).mean())


def _pooled(features, head: str) -> np.ndarray:
    """What a head's first layer gives: the mean of each channel (``"average"``) or every value (``"flatten"``)."""
    return features.mean(axis=(1, 2)) if head == "average" else features.reshape(len(features), -1)


def _fit_head(features, labels, *, seed: int):
    """A softmax layer fitted to pooled ``features`` (multinomial logistic regression): ``(kernel, bias)``."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    # one thread: beside Keras's threads, more make this small fit a hundred times slower
    with threadpool_limits(1):
        classifier = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(features, labels)
    return classifier.coef_.T.astype(np.float32), classifier.intercept_.astype(np.float32)


def _head_accuracy(kernel, bias, features, labels) -> float:
    scores = features @ kernel + bias
    return float((scores.argmax(axis=1) == labels).mean())


def run_experiment(
    *,
    variants=MAIN_VARIANTS,
    per_class=(5, 10, 20, 50, 200),
    seeds=(0, 1, 2, 3, 4),
    test_per_class: int = 100,
    epochs: int = 10,
    minimum_steps: int = 100,
    image_size: int = 32,
    folder=None,
    progress=None,
) -> pd.DataFrame:
    """Train every variant for every N in ``per_class`` and every seed; return one row per run.

    Args:
        variants: keys of :data:`VARIANTS`.
        per_class: labelled training images per class.
        seeds: each seed draws its own training pool and starts its own head and weights.
        test_per_class: test slices per class (the same for every run).
        epochs, minimum_steps: the training length, see :func:`training_steps`.
        image_size: must match the pretrained weights (32).
        folder: where the pretrained weights are (the package's own by default).
        progress: optional callable called with a line of text after each seed.

    Returns:
        A DataFrame with columns ``variant``, ``label``, ``per_class``, ``seed``,
        ``accuracy`` (on the test slices), ``steps`` and ``seconds``.

    Example:
        >>> frame = run_experiment(variants=("frozen",), per_class=(5,), seeds=(0,))  # doctest: +SKIP
        >>> frame.columns.tolist()  # doctest: +SKIP
        ['variant', 'label', 'per_class', 'seed', 'accuracy', 'steps', 'seconds']
    """
    import keras

    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        raise ConfigError(f"variants {unknown}: expected keys of VARIANTS: {tuple(VARIANTS)}")
    per_class = sorted(int(n) for n in per_class)
    if not per_class or per_class[0] < 1:
        raise ConfigError(f"per_class={per_class!r}: expected whole numbers of images, at least 1")
    chosen = {name: VARIANTS[name] for name in variants}
    classes = len(CLASS_NAMES)
    test = make_lesion_data(test_per_class, image_size=image_size, seed=10_000)

    # The pretrained halves of each source, and the features of the test slices they give
    sources = {}
    for source in sorted({variant.source for variant in chosen.values() if variant.start != "scratch"}):
        backbone, _ = load_backbone(source, folder=folder)
        lower, upper = backbone.get_layer("lower"), backbone.get_layer("upper")
        test_lower = keras.ops.convert_to_numpy(lower(test.images, training=False))
        test_upper = keras.ops.convert_to_numpy(upper(test_lower, training=False))
        sources[source] = (lower, upper, test_lower, test_upper)

    # One compiled model per trained variant
    trainers = {}
    for name, variant in chosen.items():
        if variant.start == "scratch":
            backbone = build_backbone(image_size=image_size, seed=0)
            head = build_head((image_size // 8, image_size // 8, 64), classes)
            model = keras.Sequential([keras.Input((image_size, image_size, 1)), backbone, head])
            trainers[name] = [_Trainer(model, keras.optimizers.Adam(variant.head_rate))]
        elif variant.start == "fine-tune":
            _, upper, test_lower, test_upper = sources[variant.source]
            upper = keras.models.clone_model(upper)
            head = build_head(test_upper.shape[1:], classes, head=variant.head)
            trainers[name] = []
            for stage in (("last block", "second half") if variant.gradual else ("second half",)):
                # one model per stage, sharing the layers: each is compiled with its own trainable set
                inputs = keras.Input(test_lower.shape[1:])
                model = keras.Model(inputs, head(upper(inputs)))
                unfreeze = _unfreezer(upper, stage, variant.batch_norm)
                unfreeze()
                optimizer = (_discriminative_adam(upper, head_rate=variant.head_rate, backbone_rate=variant.backbone_rate)
                             if variant.head_rate != variant.backbone_rate else keras.optimizers.Adam(variant.head_rate))
                trainers[name].append((unfreeze, _Trainer(model, optimizer)))

    rows = []
    for seed in seeds:
        started_seed = time.perf_counter()
        pool = make_lesion_data(per_class[-1], image_size=image_size, seed=seed * 1000 + 1)
        pool_features = {}
        for source, (lower, upper, _, _) in sources.items():
            pool_lower = keras.ops.convert_to_numpy(lower(pool.images, training=False))
            pool_features[source] = (pool_lower, keras.ops.convert_to_numpy(upper(pool_lower, training=False)))
        scratch_start = build_backbone(image_size=image_size, seed=seed).get_weights()
        for count in per_class:
            indices = first_per_class(pool.labels, count)
            labels = pool.labels[indices]
            steps = training_steps(len(indices), epochs=epochs, minimum_steps=minimum_steps)
            order = training_order(len(indices), steps, seed=seed)
            heads = {}
            for name, variant in chosen.items():
                started = time.perf_counter()
                if variant.start == "scratch":
                    trainer = trainers[name][0]
                    head_start = build_head((image_size // 8, image_size // 8, 64), classes, seed=seed).get_weights()
                    trainer.fit(scratch_start + head_start, pool.images[indices], labels, order)
                    accuracy = _accuracy(trainer.model, test.images, test.labels)
                else:
                    lower, upper, test_lower, test_upper = sources[variant.source]
                    key = (variant.source, variant.head)
                    if key not in heads:
                        pooled = _pooled(pool_features[variant.source][1][indices], variant.head)
                        heads[key] = _fit_head(pooled, labels, seed=seed)
                    kernel, bias = heads[key]
                    if variant.start == "frozen":
                        accuracy = _head_accuracy(kernel, bias, _pooled(test_upper, variant.head), test.labels)
                    else:
                        start = upper.get_weights() + [kernel, bias]
                        stages = trainers[name]
                        for unfreeze, trainer in stages:
                            stage_steps = steps if len(stages) == 1 else max(1, steps // 2)
                            stage_order = order[: stage_steps * 32]
                            unfreeze()
                            trainer.fit(start, pool_features[variant.source][0][indices], labels, stage_order)
                            start = trainer.model.get_weights()
                        accuracy = _accuracy(stages[-1][1].model, test_lower, test.labels)
                rows.append({"variant": name, "label": variant.label, "per_class": count, "seed": seed,
                             "accuracy": accuracy, "steps": steps, "seconds": time.perf_counter() - started})
        if progress is not None:
            progress(f"seed {seed}: {time.perf_counter() - started_seed:.0f} s")
    return pd.DataFrame(rows)


def t_interval(values, *, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of the mean of ``values`` (runs with different seeds).

    Example:
        >>> [round(value, 3) for value in t_interval([0.5, 0.6, 0.7])]
        [0.6, 0.352, 0.848]
    """
    from scipy import stats

    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def summarise(frame: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Mean accuracy and its 95 % interval over seeds, per variant and N (index ``(variant, per_class)``).

    Example:
        >>> frame = pd.DataFrame({"variant": ["frozen"] * 3, "per_class": [5] * 3, "accuracy": [0.5, 0.6, 0.7]})
        >>> summarise(frame).round(3).values.tolist()
        [[0.6, 0.352, 0.848, 3.0]]
    """
    rows = {}
    for (name, count), group in frame.groupby(["variant", "per_class"], sort=False):
        mean, low, high = t_interval(group["accuracy"], confidence=confidence)
        rows[(name, count)] = {"mean": mean, "low": low, "high": high, "seeds": float(len(group))}
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index = pd.MultiIndex.from_tuples(summary.index, names=["variant", "per_class"])
    return summary


def paired_gap(frame: pd.DataFrame, better: str, worse: str) -> pd.DataFrame:
    """Per N: the mean over seeds of ``better``'s accuracy minus ``worse``'s (same seed, same images), and its interval.

    Example:
        >>> frame = pd.DataFrame({"variant": ["a", "b"] * 2, "per_class": [5] * 4, "seed": [0, 0, 1, 1],
        ...                       "accuracy": [0.8, 0.5, 0.9, 0.5]})
        >>> paired_gap(frame, "a", "b")["mean"].round(2).tolist()
        [0.35]
    """
    table = frame.pivot_table(index=["per_class", "seed"], columns="variant", values="accuracy")
    rows = {}
    for count, group in (table[better] - table[worse]).groupby(level="per_class"):
        mean, low, high = t_interval(group.to_numpy())
        rows[count] = {"mean": mean, "low": low, "high": high}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("per_class")
