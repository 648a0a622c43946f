"""The contract every plugin builds on.

Vector-set batches, specs and their compatibility, the modality and encoder interfaces, errors, and the
catalogue of what plugins declare. Imports nothing else of the framework.
"""
