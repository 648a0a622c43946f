"""Attention Arena core: the vector-set contract, attention, the LightningModule and the runner.

Nothing here names a concrete modality or model; plugins are built from ``conf/`` by Hydra.
Submodules are imported lazily so that ``run.py --help`` stays fast.
"""
