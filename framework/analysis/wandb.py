"""Uploading a written report to W&B: its table as a ``wandb.Table`` and its plots as images."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from framework.io.wandb import wandb_credentials


def upload_report(report_dir: Path, project: str, name: str, entity: str | None = None) -> str:
    """Logs ``report.csv`` and every PNG in ``report_dir`` to one W&B run (job type ``report``); returns its folder.

    Offline without credentials (``wandb sync <folder>`` uploads it later), like training runs.
    """
    import wandb

    with (report_dir / "report.csv").open(newline="") as file:
        records = [[_number_or_text(cell) for cell in record] for record in csv.reader(file)]
    online, _ = wandb_credentials()
    offline = os.environ.get("WANDB_MODE") == "offline" or not online
    run = wandb.init(
        project=project,
        entity=entity,
        name=name,
        job_type="report",
        dir=str(report_dir),
        mode="offline" if offline else "online",
        reinit="finish_previous",
    )
    try:
        run.log(
            {
                "report": wandb.Table(columns=records[0], data=records[1:]),
                **{png.stem: wandb.Image(str(png)) for png in sorted(report_dir.glob("*.png"))},
            }
        )
    finally:
        run.finish()
    return run.dir


def _number_or_text(cell: str) -> float | str:
    try:
        return float(cell)
    except ValueError:
        return cell
