"""Text modality: part-of-speech tagging of sentences (work in progress for the text-tagging issue)."""
