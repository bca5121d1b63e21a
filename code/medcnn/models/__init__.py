"""The study's classifiers: an ImageNet backbone, its own preprocessing, and the study's heads.

Submodules:
    backbones: the three backbones (VGG-16, ResNet-50, Inception-V3), their sizes and preprocessing.
    classifier: ``build_classifier`` and ``split_classifier`` (feature extractor + head).
    fine_tune: ``unfreeze_second_half`` for the study's fine-tuning stage.

Example:
    >>> from medcnn.models.classifier import build_classifier
    >>> model = build_classifier("resnet50", 3, weights=None, input_size=32)  # doctest: +SKIP
"""
