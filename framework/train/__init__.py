"""Training one run: building the parts and running them.

The LightningModule, metrics, callbacks, probes, resume points, budgets and loggers.
"""
