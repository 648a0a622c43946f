"""Speech modality plugin: spoken digits (FSDD) as log-mel frame sequences."""

from plugins.modalities.speech.modality import SpeechModality

__all__ = ["SpeechModality"]
