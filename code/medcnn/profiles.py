"""Profiles: the same chapter or command, small (``smoke``) or at the study's size (``full``).

``smoke`` needs no network: synthetic data written in the real formats (or real
data already on disk), tiny images, a few images per class, one or two epochs and
random weights. It exists to check that everything runs, and its numbers say
nothing about the medical task. ``full`` uses the real dataset, ImageNet weights
and the study's sizes and epochs (a GPU is advised).

The profile comes from the caller, else the ``MEDCNN_PROFILE`` environment
variable, else ``smoke``; ``MEDCNN_EPOCHS``, ``MEDCNN_FINE_TUNE_EPOCHS`` and
``MEDCNN_WEIGHTS`` adjust it (:mod:`medcnn.environment` lists them). It is resolved once,
by :func:`get_profile`, where a run starts (a command, a chapter's first cell, the
study); the :class:`Profile` object is then passed down, and nothing below reads the
environment again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from medcnn.environment import user_setting
from medcnn.errors import ConfigError
from medcnn.models.backbones import get_backbone


@dataclass(frozen=True)
class Profile:
    """Sizes for one profile.

    Attributes:
        name: ``smoke`` or ``full``.
        weights: ``"imagenet"`` or ``None`` (random initialisation).
        image_size: a fixed image side in pixels, or ``None`` for the backbone's own input size.
        synthetic_per_class: images per class (and per official split) for synthetic stand-ins.
        epochs: the most epochs of the frozen-backbone phase.
        fine_tune_epochs: epochs of the fine-tuning phase.
        synthetic: whether the data comes from synthetic stand-ins when the real data is absent.
    """

    name: str
    weights: str | None
    image_size: int | None
    synthetic_per_class: int
    epochs: int
    fine_tune_epochs: int
    synthetic: bool

    def banner(self, *, epochs: int | None = None) -> str:
        """One line that says plainly what kind of run this is.

        Args:
            epochs: the most epochs this run asked for (default: the profile's own).

        Example:
            >>> PROFILES["smoke"].banner(epochs=5).split(", ")[3]
            'at most 5 epoch(s). It checks that the code runs; its numbers say nothing about the medical task.'
        """
        epochs = self.epochs if epochs is None else epochs
        if self.name == "smoke":
            return (
                "SMOKE RUN: synthetic data in the real formats, tiny images, random weights, "
                f"at most {epochs} epoch(s). It checks that the code runs; its numbers say nothing about the medical task."
            )
        weights = "ImageNet weights" if self.weights else "RANDOM weights (MEDCNN_WEIGHTS=none: a rehearsal)"
        return f"FULL RUN: the real dataset, {weights} and the study's settings, at most {epochs} epoch(s)."

    @property
    def note(self) -> str | None:
        """The smoke notice printed above every table and under every figure title; ``None`` in ``full``.

        Example:
            >>> PROFILES["smoke"].note.startswith("SMOKE RUN"), PROFILES["full"].note
            (True, None)
        """
        if self.name == "smoke":
            return "SMOKE RUN: synthetic data, tiny images, random weights; the numbers mean nothing"
        return None

    def image_size_for(self, backbone: str) -> int:
        """The image side to use with ``backbone`` (Inception-V3 needs at least 75 px).

        Example:
            >>> PROFILES["smoke"].image_size_for("inceptionv3"), PROFILES["smoke"].image_size_for("vgg16")
            (75, 64)
        """
        spec = get_backbone(backbone)
        if self.image_size is None:
            return spec.default_size
        return max(self.image_size, spec.min_size)


PROFILES = {
    "smoke": Profile(
        name="smoke", weights=None, image_size=64, synthetic_per_class=12, epochs=2, fine_tune_epochs=1, synthetic=True
    ),
    "full": Profile(
        name="full", weights="imagenet", image_size=None, synthetic_per_class=0, epochs=100, fine_tune_epochs=5, synthetic=False
    ),
}


PROFILE_VARIABLE = "MEDCNN_PROFILE"


def profile_name(name: str | None = None) -> str:
    """The profile's name: ``name`` if given, else ``$MEDCNN_PROFILE``, else ``smoke``.

    The only place that reads ``MEDCNN_PROFILE`` (through :mod:`medcnn.environment`); chapters and commands ask here.

    Example:
        >>> profile_name("full")
        'full'
    """
    chosen = name or user_setting(PROFILE_VARIABLE) or "smoke"
    if chosen not in PROFILES:
        raise ConfigError(
            f"profile {chosen!r}: expected one of {', '.join(PROFILES)} (set {PROFILE_VARIABLE} or --profile)"
        )
    return chosen


def get_profile(name: str | None = None) -> Profile:
    """Resolve the profile once, where a run starts: by name, else ``MEDCNN_PROFILE``, else ``smoke``,
    with the environment's adjustments (:func:`environment_overrides`). Pass the result down.

    Example:
        >>> get_profile("full").weights
        'imagenet'
    """
    return replace(PROFILES[profile_name(name)], **environment_overrides())


def as_profile(profile: Profile | str | None = None) -> Profile:
    """``profile`` itself when it is already resolved, else :func:`get_profile` of the name (or ``None``).

    The functions a chapter calls take either, so a chapter may pass the name it shows,
    while a command or the study resolves once and passes the object.

    Example:
        >>> smoke = get_profile("smoke")
        >>> as_profile(smoke) is smoke, as_profile("full").name
        (True, 'full')
    """
    return profile if isinstance(profile, Profile) else get_profile(profile)


# A shorter full run (fewer epochs, random weights: a first try on a small GPU quota, or the
# full-profile rehearsal, tools/rehearsal.py): listed with the others in medcnn.environment.
OVERRIDE_VARIABLES = {"MEDCNN_EPOCHS": "epochs", "MEDCNN_FINE_TUNE_EPOCHS": "fine_tune_epochs", "MEDCNN_WEIGHTS": "weights"}


def _whole_number(variable: str, text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"${variable}={text!r}: expected a whole number of at least {minimum} (or unset it)")
    return value


def environment_overrides() -> dict:
    """Profile fields set by the environment: ``$MEDCNN_EPOCHS``, ``$MEDCNN_FINE_TUNE_EPOCHS``, ``$MEDCNN_WEIGHTS``.

    Unset variables change nothing. ``MEDCNN_WEIGHTS`` is ``imagenet`` or ``none`` (random weights).

    Example:
        >>> import os
        >>> os.environ["MEDCNN_EPOCHS"] = "2"
        >>> environment_overrides(), get_profile("full").epochs
        ({'epochs': 2}, 2)
        >>> del os.environ["MEDCNN_EPOCHS"]
    """
    overrides = {}
    for variable, field_name in OVERRIDE_VARIABLES.items():
        text = user_setting(variable)
        if text is None:
            continue
        if field_name == "weights":
            if text.lower() not in {"imagenet", "none"}:
                raise ConfigError(f"${variable}={text!r}: expected imagenet or none (or unset it)")
            overrides[field_name] = None if text.lower() == "none" else "imagenet"
        else:
            overrides[field_name] = _whole_number(variable, text, minimum=1 if field_name == "epochs" else 0)
    return overrides

