"""Writing a run's ``results.json`` so that a file is either complete or absent."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Writes ``payload`` to ``path`` through a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def strip_prefix(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    """``{"test/acc": t}`` → ``{"acc": float(t)}`` for the keys under ``prefix/``."""
    return {key.split("/", 1)[1]: float(value) for key, value in metrics.items() if key.startswith(f"{prefix}/")}
