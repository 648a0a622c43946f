"""The config, checked: values against the classes they build, group overrides before Hydra reads them, ``--list``.

No torch at import.
"""
