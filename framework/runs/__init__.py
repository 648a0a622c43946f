"""A run on disk: results.json schema, run identity and config hash, finished-config index, task wrapper, preflight.

No torch at import.
"""
