"""Modality plugins: datasets, structure, masks and input encoders (see ``framework.Modality``)."""
