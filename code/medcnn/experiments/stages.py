"""The study's four stages as data, and the run configurations each one asks for.

The study ran its stages per dataset, each starting from the winner of an earlier one:

1. **batch size**: VGG-16, ResNet-50 and Inception-V3 with batch sizes 32, 64, 128 and
   256 at learning rate 1e-3 (12 runs per dataset, 36 in all);
2. **learning rate**: the stage-1 winner with 1e-1, 1e-2, 1e-3, 1e-4 and 1e-5 (5 per
   dataset, 15 in all);
3. **augmentation**: the stage-2 winner with the study's augmentation (1 per dataset);
4. **fine-tuning**: the stage-2 winner (the best configuration without augmentation),
   then the second half of the backbone unfrozen for 5 more epochs at 1e-5 (1 per dataset).

A :class:`Stage` is plain data, so a test or an exercise can run a smaller study by
passing its own tuple of stages. A configuration that an earlier stage already ran
(stage 2's 1e-3 run is stage 1's winner) has the same config id and is not run again:
its row serves both stages.

Example:
    >>> from medcnn.experiments.stages import STUDY_STAGES, StudySettings, stage_configs
    >>> configs = stage_configs(STUDY_STAGES[0], "retina", settings=StudySettings())
    >>> len(configs), configs[0].backbone, configs[0].batch_size
    (12, 'vgg16', 32)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from medcnn.config import RunConfig
from medcnn.errors import ConfigError
from medcnn.profiles import Profile
from medcnn.models.backbones import display_name, study_backbones

# the datasets the study ran on (the study's choice, so here, not in the datasets' records)
STUDY_DATASETS = ("brain_tumor", "covid19", "retina")
STUDY_BACKBONES = study_backbones()  # from the backbones' records (in_study)
STUDY_BATCH_SIZES = (32, 64, 128, 256)
STUDY_LEARNING_RATES = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
STAGE_LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class Stage:
    """One stage of the study.

    Attributes:
        number: 1-4, the stage's place in the study.
        name: what the stage varies, in words.
        question: the question it answers (shown in reports).
        starts_from: the stage whose winner this stage starts from (``None``: a grid).
        backbones, batch_sizes: the grid of a stage that starts from nothing.
        learning_rates: the learning rates tried (a grid stage uses all of them with every
            backbone and batch size; a stage that starts from a winner tries each on it;
            empty: keep the winner's).
        augment, fine_tune: what the stage switches on for the winner it starts from.

    Example:
        >>> Stage(number=1, name="batch size", question="?", backbones=("vgg16",),
        ...       batch_sizes=(8,), learning_rates=(1e-3,)).number
        1
    """

    number: int
    name: str
    question: str
    starts_from: int | None = None
    backbones: tuple = ()
    batch_sizes: tuple = ()
    learning_rates: tuple = ()
    augment: bool = False
    fine_tune: bool = False


STUDY_STAGES = (
    Stage(
        number=1, name="batch size",
        question="Which network and batch size classify the most test images correctly (learning rate 1e-3)?",
        backbones=STUDY_BACKBONES, batch_sizes=STUDY_BATCH_SIZES, learning_rates=(STAGE_LEARNING_RATE,),
    ),
    Stage(
        number=2, name="learning rate",
        question="With the stage-1 network and batch size, which initial learning rate is best?",
        starts_from=1, learning_rates=STUDY_LEARNING_RATES,
    ),
    Stage(
        number=3, name="augmentation",
        question="Does the study's augmentation of the training images improve the stage-2 configuration?",
        starts_from=2, augment=True,
    ),
    Stage(
        number=4, name="fine-tuning",
        question="Does unfreezing the second half of the backbone (5 epochs at 1e-5) improve "
        "the best configuration without augmentation?",
        starts_from=2, fine_tune=True,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class StudySettings:
    """What every run of a study shares: the profile, the seeds, and settings left to the profile.

    Attributes:
        profile: ``smoke`` or ``full`` (see :mod:`medcnn.profiles`).
        seeds: each configuration is run once per seed (``--seeds N`` gives ``0 … N-1``).
        epochs, image_size, fine_tune_epochs: ``None`` takes the profile's value.
        weights: ``"profile"`` (the profile's), ``"imagenet"`` or ``None``.
        feature_cache: ``"auto"``, ``"on"`` or ``"off"`` (see :mod:`medcnn.training.features`).
        resolved_profile: the :class:`~medcnn.profiles.Profile` resolved once where the study
            started (``study`` resolves it with the environment's adjustments; a report of
            recorded runs passes the profile as defined); ``None`` resolves ``profile`` when needed.

    Example:
        >>> StudySettings(seeds=(0, 1)).seeds
        (0, 1)
    """

    profile: str = "smoke"
    seeds: tuple = (0,)
    epochs: int | None = None
    image_size: int | None = None
    fine_tune_epochs: int | None = None
    weights: str | None = "profile"
    feature_cache: str = "auto"
    resolved_profile: Profile | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        seeds = tuple(self.seeds)
        if not seeds or any(isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 for seed in seeds):
            raise ConfigError(f"seeds={self.seeds!r}: expected one or more whole numbers, 0 or more (--seeds N runs 0 … N-1)")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"seeds={self.seeds!r}: each seed once")
        object.__setattr__(self, "seeds", seeds)
        if self.resolved_profile is not None and self.resolved_profile.name != self.profile:
            raise ConfigError(f"profile={self.profile!r} but the resolved profile is {self.resolved_profile.name!r}")

    def config(self, **settings) -> RunConfig:
        """A resolved :class:`~medcnn.config.RunConfig` with these shared settings and ``settings``.

        Example:
            >>> StudySettings(epochs=1).config(dataset="retina", backbone="vgg16", seed=0).epochs
            1
        """
        return RunConfig(
            profile=self.profile, epochs=self.epochs, image_size=self.image_size,
            fine_tune_epochs=self.fine_tune_epochs, weights=self.weights, feature_cache=self.feature_cache,
            **settings,
        ).resolved(self.resolved_profile)


def get_stage(number: int, stages=STUDY_STAGES) -> Stage:
    """The stage with this number.

    Example:
        >>> get_stage(2).name
        'learning rate'
    """
    for stage in stages:
        if stage.number == number:
            return stage
    raise ConfigError(f"stage {number!r}: expected one of {', '.join(str(stage.number) for stage in stages)}")


def stage_configs(stage: Stage, dataset: str, *, settings: StudySettings, start=None) -> list[RunConfig]:
    """The configurations ``stage`` runs on ``dataset``, once per seed, in the study's order.

    Args:
        stage: the stage.
        dataset: a dataset key.
        settings: what all runs share (profile, seeds, …).
        start: the winning configuration of ``stage.starts_from`` (any seed; its backbone,
            batch size, learning rate and augmentation are taken). Required when the stage
            starts from a winner.

    Example:
        >>> settings = StudySettings()
        >>> winner = settings.config(dataset="covid19", backbone="vgg16", batch_size=64)
        >>> [config.learning_rate for config in stage_configs(get_stage(2), "covid19", settings=settings, start=winner)]
        [0.1, 0.01, 0.001, 0.0001, 1e-05]
    """
    if stage.starts_from is None:
        if not stage.backbones or not stage.batch_sizes or not stage.learning_rates:
            raise ConfigError(f"stage {stage.number} starts from nothing, so it needs backbones, batch_sizes and learning_rates")
        settings_list = [
            dict(backbone=backbone, batch_size=batch_size, learning_rate=learning_rate, augment=stage.augment,
                 fine_tune=stage.fine_tune)
            for backbone in stage.backbones
            for batch_size in stage.batch_sizes
            for learning_rate in stage.learning_rates
        ]
    else:
        if start is None:
            raise ConfigError(f"stage {stage.number} starts from the winner of stage {stage.starts_from}: pass start=")
        base = dict(backbone=start.backbone, batch_size=start.batch_size, learning_rate=start.learning_rate,
                    augment=start.augment or stage.augment, fine_tune=start.fine_tune or stage.fine_tune)
        rates = stage.learning_rates or (start.learning_rate,)
        settings_list = [dict(base, learning_rate=learning_rate) for learning_rate in rates]
    return [
        settings.config(dataset=dataset, seed=seed, **values)
        for values in settings_list
        for seed in settings.seeds
    ]


def without_seed(config: RunConfig) -> RunConfig:
    """``config`` with seed 0: the setting that several seeds repeat.

    Example:
        >>> without_seed(RunConfig(seed=3)).seed
        0
    """
    return dataclasses.replace(config, seed=0)


def describe_setting(row) -> str:
    """A setting in words: ``"VGG-16, batch 64, lr 0.001, no augmentation, fine-tuning"``.

    Example:
        >>> describe_setting({"backbone": "resnet50", "batch_size": 256, "learning_rate": 1e-3,
        ...                   "augment": False, "fine_tune": True})
        'ResNet-50, batch 256, lr 0.001, no augmentation, fine-tuning'
    """
    return (f"{display_name(row['backbone'])}, batch {int(row['batch_size'])}, "
            f"lr {float(row['learning_rate']):g}, {'augmentation' if bool(row['augment']) else 'no augmentation'}, "
            f"{'fine-tuning' if bool(row['fine_tune']) else 'no fine-tuning'}")
