"""Reading many runs: report rows, the sweep report and its plots, the W&B upload, the end-of-sweep summary.

No torch at import.
"""
