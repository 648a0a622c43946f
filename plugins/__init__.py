"""Modality and model plugins; each module is self-contained and is built by Hydra from ``conf/``."""
