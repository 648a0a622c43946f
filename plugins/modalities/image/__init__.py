"""Image modality plugin: classifying digits, MNIST or CIFAR-10 images as sets of pixel (or patch) vectors."""

from plugins.modalities.image.modality import ImageModality

__all__ = ["ImageModality"]
