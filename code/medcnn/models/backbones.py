"""The three ImageNet backbones the study compared, as Keras applications without their top.

Each backbone comes with the preprocessing it was trained with (``preprocess_input``:
VGG-16 and ResNet-50 flip RGB to BGR and subtract the ImageNet mean pixel,
Inception-V3 scales to [-1, 1]), its default input size and the smallest input it
accepts. Keras itself is imported only when a backbone is built.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from medcnn.errors import ConfigError, DownloadError

BACKBONE_LAYER_NAME = "backbone"



def keras_models_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models``, else ``~/.keras/models`` (``/tmp/.keras`` if home is read-only).

    Example:
        >>> keras_models_dir().name
        'models'
    """
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]) / "models"
    home = Path.home() if os.access(Path.home(), os.W_OK) else Path("/tmp")
    return home / ".keras" / "models"


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # Keras publishes MD5 hashes for these files; this is an integrity check only
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove_damaged_weights(name: str, *, folder=None) -> Path | None:
    """Delete a half-downloaded or damaged ImageNet weights file of backbone ``name``; return it, or None.

    A download killed midway leaves a file Keras would refuse (wrong MD5 hash); without
    network Keras could not fetch a good copy either, so the bad one is removed and the
    next run with network downloads it again.

    Example:
        >>> remove_damaged_weights("vgg16", folder="/no/such/folder") is None
        True
    """
    backbone = get_backbone(name)
    file_name, expected = backbone.weights_file, backbone.weights_md5
    path = Path(folder) / file_name if folder is not None else keras_models_dir() / file_name
    if not path.is_file() or _md5(path) == expected:
        return None
    path.unlink()
    return path


@dataclass(frozen=True)
class Backbone:
    """One backbone's record: everything else (CLI choices, the study's lists, heads, reports) derives from it.

    Adding a backbone is one more entry in :data:`BACKBONES`.

    Attributes:
        name: the name medcnn uses (``"vgg16"``, ``"resnet50"``, ``"inceptionv3"``).
        module: the ``keras.applications`` module holding it and its ``preprocess_input``.
        constructor: the function in that module that builds it.
        default_size: the side, in pixels, it was trained on with ImageNet.
        min_size: the smallest side it accepts without a top.
        signature_layer: a layer name only this architecture has (to recognise it in a built model).
        display_name: the name reports and figures print (``"VGG-16"``).
        head_units: the units of the hidden Dense layers the study put after ``Flatten``.
        weights_file, weights_md5: the ImageNet weights without the top, as ``keras.applications``
            names and checks them (file in ``~/.keras/models``, the MD5 Keras passes to ``get_file``).
        cache_features_on_gpu: whether training the head on cached backbone outputs beats
            recomputing them on a large GPU (measured on an H200; see :mod:`medcnn.training.features`).
        in_study: whether the study compared it (its stages run every backbone that is).

    Example:
        >>> backbone = get_backbone("vgg16")
        >>> backbone.default_size, backbone.min_size
        (224, 32)
    """

    name: str
    module: str
    constructor: str
    default_size: int
    min_size: int
    signature_layer: str
    display_name: str
    head_units: tuple[int, ...]
    weights_file: str
    weights_md5: str
    cache_features_on_gpu: bool = False
    in_study: bool = True

    def preprocess(self, images):
        """Apply this backbone's own ``preprocess_input`` to 0-255 float images (array or Keras tensor).

        Example:
            >>> import numpy as np
            >>> get_backbone("inceptionv3").preprocess(np.full((1, 2, 2, 3), 255.0)).max()  # doctest: +SKIP
            1.0
        """
        return importlib.import_module(f"keras.applications.{self.module}").preprocess_input(images)

    def build(self, *, input_size: int | None = None, weights: str | None = "imagenet"):
        """Build the backbone without its top, as one Keras model named ``"backbone"``.

        Args:
            input_size: the image side in pixels (default: ``default_size``).
            weights: ``"imagenet"``, ``None`` (random initialisation) or a path to a weights file.

        Example:
            >>> model = get_backbone("resnet50").build(input_size=32, weights=None)  # doctest: +SKIP
            >>> model.output.shape  # doctest: +SKIP
            (None, 1, 1, 2048)
        """
        size = check_input_size(self.name, input_size)
        applications = importlib.import_module(f"keras.applications.{self.module}")
        build = getattr(applications, self.constructor)
        removed = remove_damaged_weights(self.name) if weights == "imagenet" else None
        try:
            return build(
                include_top=False, weights=weights, input_shape=(size, size, 3), name=BACKBONE_LAYER_NAME
            )
        except Exception as error:  # Keras reports a failed download as a bare Exception
            if weights == "imagenet":
                file_name = self.weights_file
                damaged = f"a damaged copy ({removed}) was removed; " if removed is not None else ""
                remove_damaged_weights(self.name)  # a download that broke off now is not kept either
                raise DownloadError(
                    f"could not get the ImageNet weights of {self.name} ({type(error).__name__}: {error}); "
                    f"{damaged}they are downloaded once into {keras_models_dir() / file_name}. Check the network "
                    f"(or copy that file there by hand), or train from random weights with `--weights none` "
                    f"(weights=None)"
                ) from None
            raise


BACKBONES = {
    "vgg16": Backbone(
        "vgg16", "vgg16", "VGG16", 224, 32, "block5_conv3", display_name="VGG-16", head_units=(4096, 4096),
        weights_file="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_md5="6d6bbae143d832006294945121d1f1fc", cache_features_on_gpu=True,
    ),
    "resnet50": Backbone(
        "resnet50", "resnet50", "ResNet50", 224, 32, "conv5_block3_out", display_name="ResNet-50",
        head_units=(1024,), weights_file="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_md5="4d473c1dd8becc155b73f8504c6f6626",
    ),
    "inceptionv3": Backbone(
        "inceptionv3", "inception_v3", "InceptionV3", 299, 75, "mixed10", display_name="Inception-V3",
        head_units=(1024,), weights_file="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        weights_md5="bcbd6486424b2319ff4ef7d526e38f63",
    ),
}
BACKBONE_KEYS = tuple(BACKBONES)


def study_backbones() -> tuple[str, ...]:
    """The backbones the study compared, in the registry's order.

    Example:
        >>> study_backbones()
        ('vgg16', 'resnet50', 'inceptionv3')
    """
    return tuple(key for key, backbone in BACKBONES.items() if backbone.in_study)


def display_name(backbone: str) -> str:
    """The printed name of a backbone (``"ResNet-50"``); an unknown name is returned as given.

    Example:
        >>> display_name("inceptionv3")
        'Inception-V3'
    """
    record = BACKBONES.get(str(backbone))
    return record.display_name if record is not None else str(backbone)


def get_backbone(name: str = "vgg16") -> Backbone:
    """Look up a backbone by name (case, ``-`` and ``_`` are ignored: ``"Inception_V3"`` works).

    Example:
        >>> get_backbone("ResNet-50").constructor
        'ResNet50'
    """
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r}: expected one of {', '.join(BACKBONES)}")
    return BACKBONES[key]


def check_input_size(name: str, input_size: int | None = None) -> int:
    """Return the input side to use for backbone ``name``, refusing one below its minimum.

    ``None`` gives the backbone's default size.

    Example:
        >>> check_input_size("inceptionv3")
        299
        >>> check_input_size("vgg16", 64)
        64
    """
    backbone = get_backbone(name)
    if input_size is None:
        return backbone.default_size
    if isinstance(input_size, bool) or int(input_size) != input_size:
        raise ConfigError(f"input_size={input_size!r}: expected a whole number of pixels")
    if input_size < backbone.min_size:
        raise ConfigError(
            f"input_size={input_size} is too small for {backbone.name}: its minimum is "
            f"{backbone.min_size} pixels (default {backbone.default_size}); resize the image cache larger"
        )
    return int(input_size)


def backbone_architecture(model) -> str:
    """Name the architecture (``"vgg16"``, ...) of a classifier or backbone built by medcnn.

    Recognised by a layer name only that architecture has, so it works on reloaded models.

    Example:
        >>> from medcnn.models.classifier import build_classifier
        >>> backbone_architecture(build_classifier("vgg16", weights=None, input_size=32))  # doctest: +SKIP
        'vgg16'
    """
    names = set()
    stack = [model]
    while stack:
        layer = stack.pop()
        names.add(layer.name)
        stack.extend(getattr(layer, "layers", []))
    for backbone in BACKBONES.values():
        if backbone.signature_layer in names:
            return backbone.name
    raise ConfigError(
        f"model {model.name!r} holds none of the backbones {', '.join(BACKBONES)}; "
        "build it with medcnn.models.classifier.build_classifier"
    )
