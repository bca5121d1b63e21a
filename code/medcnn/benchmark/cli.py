"""The ``bench`` subcommand: ``python -m medcnn bench [--backbone B|all] [--image-size S] [--json OUT] …``.

:func:`register` adds it to an ``argparse`` subparsers object (medcnn's own command
line, or ``python -m medcnn.benchmark``); :func:`run` does the work. Importing this
module imports neither Keras nor NumPy; it needs no TensorFlow (``KERAS_BACKEND=jax``
works) and no network: the images are synthetic PNGs written into a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from medcnn.errors import ConfigError
from medcnn.models.backbones import BACKBONE_KEYS

BACKBONE_CHOICES = (*BACKBONE_KEYS, "all")
PRECISION_CHOICES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
CPU_IMAGE_SIZE = 64  # default input side on a CPU: ratios, not absolute times, are what count there
CPU_IMAGES = 96
ACCELERATOR_IMAGES = 1024


def register(subcommands) -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand to ``subcommands`` (from ``parser.add_subparsers()``); return its parser.

    The subcommand's ``function`` default is :func:`run`.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> _ = register(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["bench", "--backbone", "resnet50"]).workers
        2
    """
    description = (
        "measure training throughput (images/s) on this machine: model-only, medcnn's cached pipeline, "
        "decode-every-epoch and cached features; print the ratios and optionally write JSON"
    )
    command = subcommands.add_parser("bench", help=description, description=description)
    command.set_defaults(function=run)
    command.add_argument("--backbone", default="all", choices=BACKBONE_CHOICES, help="which backbone (default: all)")
    command.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    command.add_argument("--image-size", type=int,
                         help=f"model input side in px (default: the backbone's on a GPU, {CPU_IMAGE_SIZE} on a CPU)")
    command.add_argument("--source-size", type=int, default=299,
                         help="side of the synthetic PNG files decoded (default 299, the COVID-19 radiographs')")
    command.add_argument("--images", type=int,
                         help=f"images per epoch, rounded down to whole batches (default {ACCELERATOR_IMAGES} on a GPU, "
                              f"{CPU_IMAGES} on a CPU)")
    command.add_argument("--epochs", type=int, default=3,
                         help="timed epochs per path, after one warm-up epoch; the fastest counts (default 3)")
    command.add_argument("--workers", type=int, default=2,
                         help="decoding threads of the decode-every-epoch baseline (default 2, like Colab's vCPUs)")
    command.add_argument("--num-classes", type=int, default=3, help="output classes (default 3)")
    command.add_argument("--precision", default="auto", choices=PRECISION_CHOICES,
                         help="dtype policy (auto: mixed_bfloat16 or mixed_float16 on a GPU, float32 on a CPU)")
    command.add_argument("--jit", default="auto", choices=("auto", "on", "off"),
                         help="XLA compilation (auto: on for a GPU, Keras' default on a CPU)")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--work-dir", help="folder for the PNGs and the cache (default: a temporary folder, removed)")
    command.add_argument("--json", dest="json_path", metavar="OUT", help="write the report as JSON to this file")
    return command


def _check(arguments) -> None:
    for name in ("batch_size", "epochs", "workers", "source_size"):
        value = getattr(arguments, name)
        if value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {value}: expected a positive whole number")
    for name in ("images", "image_size"):
        value = getattr(arguments, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {value}: expected a positive whole number")
    if arguments.num_classes < 2:
        raise ConfigError(f"--num-classes {arguments.num_classes}: expected at least 2")
    from medcnn.config import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_IMAGE_SIZE, MAX_SEED

    limits = {"batch_size": MAX_BATCH_SIZE, "epochs": MAX_EPOCHS, "image_size": MAX_IMAGE_SIZE,
              "source_size": 4 * MAX_IMAGE_SIZE, "workers": 256, "num_classes": 10_000, "images": 10_000_000}
    for name, most in limits.items():
        value = getattr(arguments, name)
        if value is not None and value > most:
            raise ConfigError(f"--{name.replace('_', '-')} {value}: expected at most {most}")
    if not 0 <= arguments.seed <= MAX_SEED:
        raise ConfigError(f"--seed {arguments.seed}: expected a whole number from 0 to {MAX_SEED}")
    from medcnn.files import check_writable

    if arguments.json_path:
        check_writable(arguments.json_path, what="the benchmark report", fix="write it elsewhere with --json")
    if arguments.work_dir:
        check_writable(arguments.work_dir, what="the benchmark's work folder", fix="use another --work-dir",
                       folder=True)
    if arguments.image_size is not None:
        from medcnn.models.backbones import BACKBONES, check_input_size

        for backbone in BACKBONES if arguments.backbone == "all" else [arguments.backbone]:
            check_input_size(backbone, arguments.image_size)


def run(arguments) -> int:
    """Run the benchmark described by ``arguments`` (parsed by the parser :func:`register` adds); return 0.

    The global Keras dtype policy is restored afterwards.

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> _ = register(parser.add_subparsers(dest="command"))
        >>> run(parser.parse_args(["bench", "--backbone", "vgg16", "--image-size", "32", "--images", "16",
        ...                        "--batch-size", "8", "--epochs", "1", "--json", "bench.json"]))  # doctest: +SKIP
        0
    """
    _check(arguments)
    import keras

    from medcnn.benchmark.measure import machine_facts
    from medcnn.benchmark.report import check_targets, format_table, ratios, write_json
    from medcnn.benchmark.source_images import write_source_images
    from medcnn.benchmark.suite import benchmark_backbone
    from medcnn.models.backbones import BACKBONES, check_input_size
    from medcnn.training.precision import configure_precision

    backbones = list(BACKBONES) if arguments.backbone == "all" else [arguments.backbone]
    previous_policy = keras.mixed_precision.global_policy().name
    try:
        choice = configure_precision(arguments.precision)
        jit_compile = {"auto": choice.jit_compile, "on": True, "off": False}[arguments.jit]
        device = choice.device
        on_accelerator = device.kind in ("gpu", "tpu")
        sizes = {}
        for backbone in backbones:
            if arguments.image_size is not None:
                size = arguments.image_size
            elif on_accelerator:
                size = BACKBONES[backbone].default_size
            else:
                size = max(CPU_IMAGE_SIZE, BACKBONES[backbone].min_size)
            sizes[backbone] = check_input_size(backbone, size)
        requested = arguments.images or (ACCELERATOR_IMAGES if on_accelerator else CPU_IMAGES)
        images = max(1, requested // arguments.batch_size) * arguments.batch_size
        report = {
            "medcnn_benchmark_format": 1,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "complete": False,
            "machine": machine_facts(),
            "device": {"kind": device.kind, "name": device.name,
                       "compute_capability": list(device.compute_capability) if device.compute_capability else None},
            "precision": choice.policy,
            "jit_compile": jit_compile,
            "settings": {
                "backbones": backbones, "batch_size": arguments.batch_size, "images": images,
                "images_requested": requested, "source_size": arguments.source_size, "epochs": arguments.epochs,
                "workers": arguments.workers, "num_classes": arguments.num_classes, "seed": arguments.seed,
            },
            "backbones": {},
        }
        print(f"medcnn bench: {machine_facts()['backend']} on {device.kind} {device.name}".rstrip()
              + f", {choice.policy}, jit_compile={jit_compile}; {images} images, batch {arguments.batch_size}, "
              f"sizes {sizes}", flush=True)
        with tempfile.TemporaryDirectory(prefix="medcnn-bench-") as temporary:
            work = Path(arguments.work_dir) if arguments.work_dir else Path(temporary)
            folder = work / f"sources-{arguments.source_size}px-{images}-seed{arguments.seed}"
            frame = write_source_images(folder, count=images, size=arguments.source_size,
                                        num_classes=arguments.num_classes, seed=arguments.seed)
            for backbone in backbones:
                figures = benchmark_backbone(
                    backbone, frame=frame, root=folder, cache_dir=work / "cache", image_size=sizes[backbone],
                    num_classes=arguments.num_classes, batch_size=arguments.batch_size, epochs=arguments.epochs,
                    workers=arguments.workers, jit_compile=jit_compile, device_kind=device.kind, seed=arguments.seed,
                    log=lambda line: print(line, flush=True),
                )
                figures["ratios"] = ratios(figures["paths"])
                figures["targets"] = check_targets(figures, device_kind=device.kind, workers=arguments.workers)
                report["backbones"][backbone] = figures
                report["complete"] = backbone == backbones[-1]
                if arguments.json_path:
                    write_json(report, arguments.json_path)
        print()
        print(format_table(report))
        if arguments.json_path:
            print(f"\nwrote {arguments.json_path}")
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return 0

