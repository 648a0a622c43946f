"""The ``results.json`` of a run: its one typed definition, the writer and the reader.

The runner writes it (:func:`write_results`), the finished-config index and the report read it
(:func:`read_results`), and ``docs/results-json.md`` documents exactly the keys of :class:`Results`
(a test holds the two together). A file is either complete or absent: it is written through a
temporary name and a rename.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal, TypedDict

from framework.io.atomic import write_atomic

RESULTS_FILE = "results.json"

Status = Literal["ok", "failed", "interrupted"]
Metrics = dict[str, float | None]
"""``acc``, ``f1``, ``loss`` (and subset metrics like ``acc_ambiguous``) of a split; None where nothing was scored."""


class Throughput(TypedDict):
    """Training speed: elements and sets per second, and seconds trained.

    ``element`` is what the modality calls one: pixel, token, frame or node.
    """

    element: str
    elements_per_s: float
    samples_per_s: float
    train_seconds: float


class StudyInfo(TypedDict):
    """What the report needs to judge a study: its claim, the verdict function's dotted name, its size."""

    claim: str | None
    verdict: str | None
    size: str | None


class Results(TypedDict, total=False):
    """Everything a ``results.json`` may hold.

    Identity and ``status`` are always there; the rest as the status allows.
    """

    # Identity: written for every run, finished or not (framework.runs.identity.run_identity).
    modality: str
    dataset: str | None
    model: str
    seed: int
    study: str | None
    study_info: StudyInfo
    config_hash: str
    code_version: str
    variant: str
    overrides: list[str]
    status: Status
    # A finished run (status ok).
    test: Metrics
    best_val: Metrics
    checkpoint: str | None
    epochs: int
    resumed: bool
    precision: str
    params: int
    param_budget: int | None
    width: dict[str, int]
    throughput: Throughput
    wall_time_s: float
    checks: dict[str, Any]
    # A failed or interrupted run.
    error: str
    traceback: str | None
    # A sweep job that copied a finished run's results.
    reused_from: str


REQUIRED = ("modality", "model", "seed")
"""Keys without which a file is not a results file of this project."""


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Writes ``payload`` as JSON to ``path``; the file is never seen half-written."""
    write_atomic(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


def write_results(folder: Path, results: Results) -> Path:
    """Writes ``results`` as ``folder/results.json`` and returns its path."""
    path = Path(folder) / RESULTS_FILE
    write_json_atomic(path, dict(results))
    return path


def read_results(path: Path) -> Results:
    """Parses one ``results.json``; raises ``ValueError`` saying what is wrong with it.

    Files written before runs recorded a status or code version are finished runs of unknown code.
    """
    try:
        results = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read: {error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from None
    if not isinstance(results, dict):
        raise ValueError("not a JSON object")
    missing = [key for key in REQUIRED if key not in results]
    if results.get("status", "ok") == "ok" and not isinstance(results.get("test"), dict):
        missing.append("test")
    if missing:
        raise ValueError(f"missing {', '.join(missing)} (not a results file of this project)")
    return Results(**{"status": "ok", "code_version": "unknown", **results})


def strip_prefix(metrics: dict[str, Any], prefix: str) -> Metrics:
    """``{"test/acc": t}`` → ``{"acc": float(t)}`` for the keys under ``prefix/``; NaN (nothing to score) → None."""
    stripped = {key.split("/", 1)[1]: float(value) for key, value in metrics.items() if key.startswith(f"{prefix}/")}
    return {key: None if math.isnan(value) else value for key, value in stripped.items()}
