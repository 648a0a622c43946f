"""Files from outside and on disk: verified downloads, caches keyed by their inputs, atomic writes, W&B credentials.

No torch at import.
"""
