"""Profiles: the same chapter or command, small (``smoke``) or at the study's size (``full``).

``smoke`` needs no network: synthetic data written in the real formats (or real
data already on disk), tiny images, a few images per class, one or two epochs and
random weights. It exists to check that everything runs, and its numbers say
nothing about the medical task. ``full`` uses the real dataset, ImageNet weights
and the study's sizes and epochs (a GPU is advised).

The profile comes from the caller, else the ``MEDCNN_PROFILE`` environment
variable, else ``smoke``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from medcnn.errors import ConfigError


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

    @property
    def banner(self) -> str:
        """One line that says plainly what kind of run this is."""
        if self.name == "smoke":
            return (
                "SMOKE RUN: synthetic data in the real formats, tiny images, random weights, "
                f"{self.epochs} epoch(s). It checks that the code runs; its numbers say nothing about the medical task."
            )
        return "FULL RUN: the real dataset, ImageNet weights and the study's settings."

    def image_size_for(self, backbone: str) -> int:
        """The image side to use with ``backbone`` (Inception-V3 needs at least 75 px).

        Example:
            >>> PROFILES["smoke"].image_size_for("inceptionv3"), PROFILES["smoke"].image_size_for("vgg16")
            (75, 64)
        """
        from medcnn.models.backbones import get_backbone

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


def get_profile(name: str | None = None) -> Profile:
    """Return a profile by name, else from ``MEDCNN_PROFILE``, else ``smoke``.

    Example:
        >>> get_profile("full").weights
        'imagenet'
    """
    chosen = name or os.environ.get("MEDCNN_PROFILE") or "smoke"
    if chosen not in PROFILES:
        raise ConfigError(f"profile {chosen!r}: expected one of {', '.join(PROFILES)} (set MEDCNN_PROFILE or --profile)")
    return PROFILES[chosen]
