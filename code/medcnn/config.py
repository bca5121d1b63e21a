"""One run's settings as a flat, frozen record: what a results row, a run folder and the CLI share.

Settings left as ``None`` are filled from the profile (:mod:`medcnn.profiles`) by
:meth:`RunConfig.resolved`. :meth:`RunConfig.validate` rejects a configuration that
cannot work before any work starts, and names the valid choices.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

from medcnn.datasets import DATASET_KEYS
from medcnn.errors import ConfigError
from medcnn.models.backbones import get_backbone
from medcnn.profiles import PROFILES, Profile, get_profile

MAX_SEED = 2**32 - 1
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 65_536
MAX_LEARNING_RATE = 10.0
MAX_IMAGE_SIZE = 1024
"""The largest settings :meth:`RunConfig.validate` accepts (seeds: NumPy's range; sizes: what a GPU holds)."""

FEATURE_CACHE_CHOICES = ("auto", "on", "off")
"""How the frozen-backbone stage may use cached backbone features (see :mod:`medcnn.training.features`):
``auto`` by device and backbone, ``on`` required, ``off`` never. The one vocabulary of the CLI,
:class:`RunConfig` and :func:`medcnn.training.features.feature_cache_decision`."""


@dataclass(frozen=True)
class RunConfig:
    """The settings of one training run.

    Example:
        >>> config = RunConfig(dataset="covid19", backbone="vgg16").resolved()
        >>> config.profile, config.image_size, config.weights, config.epochs
        ('smoke', 64, None, 2)
    """

    dataset: str = "brain_tumor"
    backbone: str = "vgg16"
    profile: str = "smoke"
    batch_size: int = 32
    learning_rate: float = 1e-3
    epochs: int | None = None
    image_size: int | None = None
    augment: bool = False
    fine_tune: bool = False
    fine_tune_epochs: int | None = None
    fine_tune_learning_rate: float = 1e-5
    weights: str | None = "profile"
    split: str | None = None
    seed: int = 0
    feature_cache: str = "auto"

    def resolved(self, profile: Profile | None = None) -> "RunConfig":
        """Fill the settings left open from the profile, and validate the result.

        Args:
            profile: the run's profile, resolved once where the run started
                (:func:`medcnn.profiles.get_profile`); ``None`` resolves ``self.profile`` here.

        Example:
            >>> from medcnn.profiles import get_profile
            >>> RunConfig(dataset="retina", profile="full").resolved(get_profile("full")).image_size
            224
        """
        self.validate_names()
        if profile is None and None not in (self.epochs, self.fine_tune_epochs, self.image_size) \
                and self.weights != "profile":
            self.validate()  # nothing left to the profile (an already resolved config): no lookup
            return self
        if profile is None:
            profile = get_profile(self.profile)
        elif profile.name != self.profile:
            raise ConfigError(f"the run's profile is {self.profile!r} but a {profile.name!r} profile was passed")
        filled = dataclasses.replace(
            self,
            epochs=self.epochs if self.epochs is not None else profile.epochs,
            fine_tune_epochs=self.fine_tune_epochs if self.fine_tune_epochs is not None else profile.fine_tune_epochs,
            image_size=self.image_size if self.image_size is not None else profile.image_size_for(self.backbone),
            weights=profile.weights if self.weights == "profile" else self.weights,
        )
        filled.validate()
        return filled

    def validate_names(self) -> None:
        """Check the dataset, backbone and profile names."""
        if self.dataset not in DATASET_KEYS:
            raise ConfigError(f"dataset {self.dataset!r}: expected one of {', '.join(DATASET_KEYS)}")
        if self.profile not in PROFILES:
            raise ConfigError(f"profile {self.profile!r}: expected one of {', '.join(PROFILES)}")

        get_backbone(self.backbone)

    def validate(self) -> None:
        """Reject settings that cannot work, naming the value and the valid range."""
        self.validate_names()

        backbone = get_backbone(self.backbone)
        if self.image_size is not None and self.image_size < backbone.min_size:
            raise ConfigError(
                f"image_size={self.image_size}: {self.backbone} needs at least {backbone.min_size} px; "
                f"use --image-size {backbone.min_size} or more (its ImageNet size is {backbone.default_size})"
            )
        if self.image_size is not None and (not _whole(self.image_size) or self.image_size > MAX_IMAGE_SIZE):
            raise ConfigError(
                f"image_size={self.image_size}: expected a whole number of pixels up to {MAX_IMAGE_SIZE} "
                f"(the model's activations grow with the square of the side, and the image cache needs "
                f"side x side x 3 bytes per image on disk); {self.backbone}'s ImageNet size is {backbone.default_size}"
            )
        if not _whole(self.batch_size) or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"batch_size={self.batch_size}: expected a whole number from 1 to {MAX_BATCH_SIZE} "
                              "(the study used 32-256)")
        for name in ("learning_rate", "fine_tune_learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not value > 0:
                raise ConfigError(f"{name}={value}: expected a finite positive number (the study used 1e-1 to 1e-5)")
            if value > MAX_LEARNING_RATE:
                raise ConfigError(f"{name}={value}: expected at most {MAX_LEARNING_RATE:g} (Adam diverges far below "
                                  "that; the study used 1e-1 to 1e-5)")
        for name, least in (("epochs", 1), ("fine_tune_epochs", 0)):
            value = getattr(self, name)
            if value is not None and (not _whole(value) or not least <= value <= MAX_EPOCHS):
                raise ConfigError(f"{name}={value}: expected a whole number of epochs from {least} to {MAX_EPOCHS}")
        if not _whole(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed={self.seed}: expected a whole number from 0 to {MAX_SEED} (NumPy's seed range)")
        for name in ("augment", "fine_tune"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected True or False")
        if self.weights not in (None, "imagenet", "profile"):
            raise ConfigError(f"weights={self.weights!r}: expected 'imagenet' or None (random initialisation)")
        if self.feature_cache not in FEATURE_CACHE_CHOICES:
            raise ConfigError(f"feature_cache={self.feature_cache!r}: expected one of {', '.join(FEATURE_CACHE_CHOICES)}")
        if self.feature_cache == "on" and self.augment:
            raise ConfigError(
                "feature_cache='on' with augment=True: augmentation changes the images every epoch, so cached "
                "backbone features would be wrong; use --feature-cache auto or off, or train without augmentation"
            )
        if self.split not in (None, "grouped", "stratified", "official"):
            raise ConfigError(f"split={self.split!r}: expected grouped, stratified or official")

    def to_dict(self) -> dict:
        """The settings as a plain dictionary (JSON-ready)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The settings as indented JSON, as written to a run folder's ``config.json``."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        """Rebuild a config from :meth:`to_dict`'s output; unknown keys are an error."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s) {unknown}; expected some of {sorted(names)}")
        return cls(**values)


def _whole(value) -> bool:
    """True for a whole number that is not a bool (``True`` is an ``int`` in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)
