"""Writing a run's ``results.json`` so that a file is either complete or absent."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from framework.atomic import write_atomic

RESULTS_FILE = "results.json"


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Writes ``payload`` as JSON to ``path``; the file is never seen half-written."""
    write_atomic(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


def strip_prefix(metrics: dict[str, Any], prefix: str) -> dict[str, float | None]:
    """``{"test/acc": t}`` → ``{"acc": float(t)}`` for the keys under ``prefix/``; NaN (nothing to score) → None."""
    stripped = {key.split("/", 1)[1]: float(value) for key, value in metrics.items() if key.startswith(f"{prefix}/")}
    return {key: None if math.isnan(value) else value for key, value in stripped.items()}
