"""Text modality plugin: part-of-speech tagging on UD English EWT or a generated ambiguity task."""

from plugins.modalities.text.modality import TextModality

__all__ = ["TextModality"]
