"""Numeric precision and XLA for the device at hand, asked of whichever Keras backend runs.

float32 on a CPU; ``mixed_bfloat16`` on GPUs with bfloat16 tensor cores (compute
capability 8.0 and up: A100, L4, H100) and on TPUs; ``mixed_float16`` on GPUs with
float16 tensor cores only (7.x: V100, T4, where Keras adds loss scaling when it
compiles). The classifier's output layer stays float32 in every case.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from medcnn.errors import ConfigError

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclass(frozen=True)
class Device:
    """The first accelerator the backend sees (or the CPU).

    Attributes:
        kind: ``"cpu"``, ``"gpu"`` or ``"tpu"``.
        name: what the backend calls it (e.g. ``"NVIDIA H100 80GB HBM3"``), or ``""``.
        compute_capability: CUDA compute capability such as ``(8, 0)``, or ``None``.

    Example:
        >>> Device("gpu", "Tesla T4", (7, 5)).compute_capability
        (7, 5)
    """

    kind: str = "cpu"
    name: str = ""
    compute_capability: tuple | None = None


@dataclass(frozen=True)
class PrecisionChoice:
    """What :func:`configure_precision` set, and the ``jit_compile`` value to compile with.

    Example:
        >>> PrecisionChoice("float32", "auto", Device()).policy
        'float32'
    """

    policy: str
    jit_compile: bool | str
    device: Device


def _capability(value) -> tuple | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(".")
    try:
        return tuple(int(part) for part in value)
    except (TypeError, ValueError):
        return None


def detect_device() -> Device:
    """Ask the running Keras backend which device it will compute on.

    Imports the backend's own library only when called (TensorFlow, JAX or PyTorch).

    Example:
        >>> detect_device().kind in ("cpu", "gpu", "tpu")  # doctest: +SKIP
        True
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        tensorflow = importlib.import_module("tensorflow")
        gpus = tensorflow.config.list_physical_devices("GPU")
        if gpus:
            details = tensorflow.config.experimental.get_device_details(gpus[0])
            return Device("gpu", details.get("device_name", ""), _capability(details.get("compute_capability")))
        if tensorflow.config.list_logical_devices("TPU"):
            return Device("tpu", "TPU")
        return Device()
    if backend == "jax":
        jax = importlib.import_module("jax")
        device = jax.devices()[0]
        platform = device.platform.lower()
        if platform in ("gpu", "cuda", "rocm"):
            return Device("gpu", getattr(device, "device_kind", ""), _capability(getattr(device, "compute_capability", None)))
        if platform == "tpu":
            return Device("tpu", getattr(device, "device_kind", "TPU"))
        return Device()
    if backend == "torch":
        torch = importlib.import_module("torch")
        if torch.cuda.is_available():
            return Device("gpu", torch.cuda.get_device_name(0), tuple(torch.cuda.get_device_capability(0)))
        return Device()
    return Device()


def choose_policy(device: Device) -> str:
    """The mixed-precision policy suited to ``device``.

    Example:
        >>> choose_policy(Device("gpu", "Tesla T4", (7, 5)))
        'mixed_float16'
        >>> choose_policy(Device("gpu", "NVIDIA A100", (8, 0)))
        'mixed_bfloat16'
        >>> choose_policy(Device())
        'float32'
    """
    if device.kind == "tpu":
        return "mixed_bfloat16"
    if device.kind == "gpu" and device.compute_capability is not None:
        if device.compute_capability >= (8, 0):
            return "mixed_bfloat16"
        if device.compute_capability >= (7, 0):
            return "mixed_float16"
    return "float32"


def configure_precision(policy: str = "auto", *, device: Device | None = None) -> PrecisionChoice:
    """Set Keras' global dtype policy for the device; call it *before* building a model.

    Args:
        policy: ``"auto"`` (by device), or one of ``"float32"``, ``"mixed_bfloat16"``, ``"mixed_float16"``.
        device: the device to choose for (default: :func:`detect_device`).

    Returns:
        The policy set and a ``jit_compile`` value for ``compile_classifier``: ``True`` on an
        accelerator (Keras falls back by itself when a layer, such as the augmentation's,
        cannot be compiled with XLA) and ``"auto"`` on a CPU (Keras then skips XLA for
        TensorFlow and jits with JAX).

    Example:
        >>> choice = configure_precision("float32")  # doctest: +SKIP
        >>> choice.policy  # doctest: +SKIP
        'float32'
    """
    import keras

    if policy != "auto" and policy not in POLICIES:
        raise ConfigError(f"policy={policy!r}: expected 'auto' or one of {', '.join(POLICIES)}")
    device = device if device is not None else detect_device()
    chosen = choose_policy(device) if policy == "auto" else policy
    keras.mixed_precision.set_global_policy(chosen)
    jit_compile = True if device.kind in ("gpu", "tpu") else "auto"
    return PrecisionChoice(chosen, jit_compile, device)
