"""The benchmark's ratios, its check against the issue's targets, the printed table and the JSON file.

Ratios are of images per second measured in one process on one machine, so they
hold where absolute times are noisy (a shared CPU, a busy host):

- ``pipeline / model-only`` (frozen, trainable): how close medcnn's input path comes to the step's own limit;
- ``pipeline / decode-every-epoch`` (frozen, trainable): the gain of decoding once;
- ``cached features / recomputed``: head epochs on cached backbone outputs against frozen-backbone epochs.
"""

from __future__ import annotations

import json
from pathlib import Path

from medcnn.files import atomic_path

RATIOS = {
    "pipeline_over_model_only_frozen": ("pipeline_frozen", "model_only_frozen"),
    "pipeline_over_model_only_trainable": ("pipeline_trainable", "model_only_trainable"),
    "pipeline_over_decode_frozen": ("pipeline_frozen", "decode_every_epoch_frozen"),
    "pipeline_over_decode_trainable": ("pipeline_trainable", "decode_every_epoch_trainable"),
    "cached_over_recomputed": ("cached_features", "pipeline_frozen"),
    "prefetch_over_none_frozen": ("pipeline_frozen", "pipeline_frozen_no_prefetch"),
    "prefetch_over_none_trainable": ("pipeline_trainable", "pipeline_trainable_no_prefetch"),
}

PATH_LABELS = {
    "model_only_frozen": "model-only, frozen backbone",
    "pipeline_frozen": "pipeline (cache → PyDataset → fit), frozen",
    "pipeline_frozen_no_prefetch": "pipeline without prefetch threads, frozen",
    "decode_every_epoch_frozen": "decode every epoch, frozen",
    "cached_features": "head on cached features (frozen stage)",
    "model_only_trainable": "model-only, all trainable",
    "pipeline_trainable": "pipeline, all trainable",
    "pipeline_trainable_no_prefetch": "pipeline without prefetch threads, all trainable",
    "decode_every_epoch_trainable": "decode every epoch, all trainable",
}


def ratios(paths: dict) -> dict:
    """Each ratio of :data:`RATIOS` from one backbone's paths (``{name: {"images_per_second": …}}``).

    Example:
        >>> paths = {name: {"images_per_second": 10.0} for name in PATH_LABELS}
        >>> paths["decode_every_epoch_frozen"] = {"images_per_second": 2.0}
        >>> ratios(paths)["pipeline_over_decode_frozen"]
        5.0
    """
    result = {}
    for name, (numerator, denominator) in RATIOS.items():
        if numerator in paths and denominator in paths:
            result[name] = round(paths[numerator]["images_per_second"] / paths[denominator]["images_per_second"], 3)
    return result


def check_targets(backbone_figures: dict, *, device_kind: str, workers: int) -> list[dict]:
    """The issue's targets for one backbone: each with its threshold, the measured value and whether it was met.

    A target that does not apply here (a GPU target on a CPU, the decode targets with
    other than 2 workers) has ``"applies": False`` and ``"met": None``.

    Example:
        >>> figures = {"ratios": {"cached_over_recomputed": 25.0}, "paths": {}, "medcnn_feature_cache": {}}
        >>> [t["met"] for t in check_targets(figures, device_kind="cpu", workers=2) if t["applies"]]
        [True]
    """
    on_accelerator = device_kind in ("gpu", "tpu")
    measured = backbone_figures.get("ratios", {})
    targets = []

    def add(name, ratio, threshold, applies):
        value = measured.get(ratio)
        met = None if not applies or value is None else value >= threshold
        targets.append({"target": name, "ratio": ratio, "at_least": threshold, "value": value, "applies": applies, "met": met})

    add("pipeline ≥ 97% of model-only (frozen), on a GPU", "pipeline_over_model_only_frozen", 0.97, on_accelerator)
    add("pipeline ≥ 95% of model-only (trainable), on a GPU", "pipeline_over_model_only_trainable", 0.95, on_accelerator)
    add("pipeline ≥ 20× decode-every-epoch (frozen, 2 workers), on a GPU", "pipeline_over_decode_frozen", 20.0,
        on_accelerator and workers == 2)
    add("pipeline ≥ 7× decode-every-epoch (trainable, 2 workers), on a GPU", "pipeline_over_decode_trainable", 7.0,
        on_accelerator and workers == 2)
    add("cached features ≥ 20× faster per epoch than recomputing, on a CPU", "cached_over_recomputed", 20.0,
        not on_accelerator)
    choice = backbone_figures.get("medcnn_feature_cache", {}).get("uses_cached_features")
    faster = measured.get("cached_over_recomputed")
    targets.append({
        "target": "medcnn's feature-cache choice is the faster path",
        "ratio": "cached_over_recomputed",
        "at_least": None,
        "value": faster,
        "applies": choice is not None and faster is not None,
        "met": None if choice is None or faster is None else bool(choice) == (faster > 1.0),
    })
    return targets


def format_table(report: dict) -> str:
    """The report as plain text: the setting, images per second per path, the ratios and the targets.

    Example:
        >>> print(format_table(report))  # doctest: +SKIP
    """
    machine = report["machine"]
    device = report["device"]
    settings = report["settings"]
    lines = [
        f"medcnn bench — {report['date']}",
        f"machine: {machine['cpu']} ({machine['cpu_cores']} cores, load {machine['load_average_1_5_15_min']}), {machine['platform']}",
        f"backend: {machine['backend']}; device: {device['kind']} {device['name']}".rstrip()
        + f"; precision: {report['precision']}; jit_compile: {report['jit_compile']}",
        "versions: " + ", ".join(f"{name} {version}" for name, version in machine["versions"].items() if version),
        f"settings: {settings['images']} images ({settings['source_size']} px PNG sources), batch {settings['batch_size']}, "
        f"1 warm-up + {settings['epochs']} timed epochs (fastest counts), decode baseline with {settings['workers']} workers",
    ]
    for figures in report["backbones"].values():
        lines.append("")
        lines.append(f"{figures['backbone']} at {figures['image_size']} px "
                     f"(decoding {figures['images']} images once took {figures['decode_once_seconds']:.1f} s)")
        lines.append(f"  {'path':<46}{'images/s':>12}{'warm-up s':>11}")
        for name, label in PATH_LABELS.items():
            if name in figures["paths"]:
                path = figures["paths"][name]
                note = f"  (+{path['setup_seconds']:.1f} s once to compute the features)" if path["setup_seconds"] else ""
                lines.append(f"  {label:<46}{path['images_per_second']:>12,.1f}{path['warmup_seconds']:>11.1f}{note}")
        lines.append("  ratios: " + ", ".join(f"{name} {value:.2f}" for name, value in figures["ratios"].items()))
        choice = figures["medcnn_feature_cache"]
        lines.append(f"  medcnn's choice: {'cached features' if choice['uses_cached_features'] else 'end to end'} ({choice['reason']})")
        for target in figures["targets"]:
            if target["applies"]:
                verdict = "met" if target["met"] else "MISSED"
                value = "" if target["value"] is None else f" ({target['value']:.2f})"
                lines.append(f"  target {verdict}: {target['target']}{value}")
    return "\n".join(lines)


def write_json(report: dict, path) -> Path:
    """Write the report to ``path`` as JSON, through a temporary file renamed into place.

    Example:
        >>> import tempfile, pathlib
        >>> target = write_json({"a": 1}, pathlib.Path(tempfile.mkdtemp()) / "bench.json")
        >>> target.read_text()[:8]
        '{\\n  "a":'
    """
    path = Path(path)
    with atomic_path(path, what="the benchmark report") as temporary:
        temporary.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
