"""Using a trained model: rebuild it from its checkpoint, score a split, write its predictions.

``python run.py mode=test ckpt_path=<run folder>`` scores the run's best checkpoint on ``split``
(``eval.json``); ``mode=predict`` writes the prediction for each scored element (``predictions.csv``);
:func:`load_run` hands a notebook the model, its modality and its config. Every checkpoint carries
the settings it was trained with (:func:`~framework.runs.identity.checkpoint_identity`), so the
model is rebuilt exactly. The command line may change how the data is served (batch size, workers,
where the files are); a model, seed or data option that contradicts the checkpoint is refused.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from framework.config.checks import seed_of
from framework.core.batch import IGNORE_INDEX, VectorSet
from framework.core.errors import ConfigError
from framework.core.modality import Modality
from framework.core.spec import Target
from framework.io.atomic import write_atomic
from framework.io.file_kind import not_a_file
from framework.runs.identity import UNHASHED_KEYS, run_identity
from framework.runs.results import strip_prefix, write_json_atomic
from framework.train.build import Parts, build_parts, build_trainer, on_data
from framework.train.module import ArenaModule
from framework.train.resume import read_checkpoint

log = logging.getLogger(__name__)

BEST = Path("checkpoints") / "best.ckpt"
"""The checkpoint a run folder is scored by: the one with the best validation accuracy."""
EVALUATION_FILE = "eval.json"
PREDICTIONS_FILE = "predictions.csv"
FIXED = ("modality", "model", "seed")
"""Keys besides ``model.*`` and ``modality.*`` that decide which model a checkpoint holds (the seed it was trained
with): a command line that changes them names another model."""
SERVING = ("batch_size", "eval_batch_size", "num_workers", "data_dir", "cache_dir")
"""The modality options a command line may change against a checkpoint: how the data is served and where its files
are. Any other (``test_fraction``, ``data_seed``) would change which elements a split holds, so that the "test" split
could hold what the model trained on."""


class LoadedRun(NamedTuple):
    """A trained run, rebuilt: its model (weights loaded, in eval mode), its modality (set up) and its config."""

    model: ArenaModule
    modality: Modality
    config: DictConfig


def checkpoint_file(ckpt_path: object) -> Path:
    """The checkpoint ``ckpt_path`` names: a ``.ckpt`` file, or a run folder's ``checkpoints/best.ckpt``."""
    if ckpt_path is None:
        raise ConfigError("ckpt_path", None, "mode=test and mode=predict score a trained model: ckpt_path=<run folder>")
    path = Path(str(ckpt_path)).expanduser()
    if (kind := not_a_file(path)) not in (None, "a folder"):
        raise ConfigError("ckpt_path", str(ckpt_path), f"is {kind}: name a finished run's folder or a .ckpt file")
    if path.is_dir():
        if not (path / BEST).is_file():
            raise ConfigError("ckpt_path", str(ckpt_path), f"holds no {BEST}: name a finished run's folder")
        return path / BEST
    if not path.is_file():
        raise ConfigError("ckpt_path", str(ckpt_path), "does not exist: name a finished run's folder or a .ckpt file")
    return path


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"model.dim": 32}`` → ``{"model": {"dim": 32}}`` (the inverse of :func:`~framework.runs.identity.flatten`)."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def is_fixed(key: str) -> bool:
    """Whether the override key ``key`` must keep the checkpoint's value: it shapes the model or the splits."""
    if key.startswith("modality."):
        return key.removeprefix("modality.") not in SERVING
    return key in FIXED or key.startswith("model.")


def trained_config(cfg: DictConfig, overrides: Iterable[str], settings: dict[str, Any], path: Path) -> DictConfig:
    """The config ``settings`` (a checkpoint's) were trained with, where files go and data is served as ``cfg`` says.

    The keys the checkpoint left out (``sweep.hash_ignores``: folders, logger, progress) come from
    ``cfg``; so do the command line's ``overrides``, except those that name another model.
    """
    ignored = tuple(cfg.sweep.hash_ignores)

    def restored(key: str, value: Any) -> Any:
        if key in ignored:  # written as a placeholder ("<output_dir>"): this command's value
            now = OmegaConf.select(cfg, key)
            return OmegaConf.to_container(now, resolve=True) if isinstance(now, DictConfig) else now
        if isinstance(value, str):  # built from one ("<output_dir>/checkpoints"): built from this command's again
            for name in ignored:
                value = value.replace(f"<{name}>", f"${{{name}}}")
        return value

    tree = unflatten({key: restored(key, value) for key, value in settings.items()})
    tree.pop("study", None)  # a study's bookkeeping, not part of the model
    trained = OmegaConf.create(tree)
    for key in cfg:
        if key not in trained:  # what to do now (mode, split), and what flat settings cannot hold (an empty dict)
            trained[key] = cfg[key]
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        if key in UNHASHED_KEYS or key in ignored or key.startswith(("hydra.", "sweep.", "callbacks.", "experiment")):
            continue
        wanted, there = OmegaConf.select(cfg, key), OmegaConf.select(trained, key)
        if is_fixed(key):
            wanted, there = (value.name if isinstance(value, DictConfig) else value for value in (wanted, there))
            if wanted != there:
                raise ConfigError(
                    key,
                    wanted,
                    f"{path} holds a model trained with {key}={there}; leave {key} out or name such a run",
                )
        elif isinstance(wanted, DictConfig):  # a group: trainer=gpu
            trained[key] = wanted
        else:
            OmegaConf.update(trained, key, wanted, merge=False, force_add=True)
    return trained


def rebuilt(cfg: DictConfig, overrides: Iterable[str]) -> tuple[Parts, ArenaModule, DictConfig, Path]:
    """The model of ``cfg.ckpt_path`` with its weights, its parts and the config it was rebuilt from, and the file."""
    path = checkpoint_file(cfg.ckpt_path)
    checkpoint = read_checkpoint(path, advice="name a checkpoint that a finished run wrote")
    config = trained_config(cfg, overrides, checkpoint["arena"]["settings"], path)
    pl.seed_everything(seed_of(config), workers=True, verbose=False)
    parts, module, _ = on_data(config, build_parts(config))
    here = {name: tuple(value.shape) for name, value in module.state_dict().items()}
    there = {name: tuple(value.shape) for name, value in checkpoint["state_dict"].items()}
    if here != there:
        name = next(name for name in sorted(here.keys() | there.keys()) if here.get(name) != there.get(name))
        raise ConfigError(
            "ckpt_path",
            str(path),
            f"its weights do not fit the model this config builds ({name}: {there.get(name)} there, "
            f"{here.get(name)} here); leave the data settings that shape the model as they were trained",
        )
    module.load_state_dict(checkpoint["state_dict"])
    return parts, module.eval(), config, path


def evaluate(cfg: DictConfig, overrides: Iterable[str]) -> dict[str, Any]:
    """``mode=test``: scores ``cfg.ckpt_path``'s model on ``cfg.split`` and writes ``eval.json``;
    ``mode=predict``: writes its ``predictions.csv``. Returns what ``eval.json`` holds."""
    overrides = list(overrides)
    parts, module, config, path = rebuilt(cfg, overrides)
    output_dir = Path(cfg.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(config.trainer, [], output_dir)
    modality = parts.modality
    loader = modality.val_dataloader() if cfg.split == "val" else modality.test_dataloader()
    record = {**run_identity(config, overrides), "mode": cfg.mode, "split": cfg.split, "checkpoint": str(path)}
    if cfg.mode == "test":
        score = (trainer.validate if cfg.split == "val" else trainer.test)(module, dataloaders=loader, verbose=False)
        record["metrics"] = strip_prefix(score[0], cfg.split)
        write_json_atomic(output_dir / EVALUATION_FILE, record)
        accuracy = record["metrics"]["acc"]
        log.info("%s accuracy %.4f; evaluation in %s", cfg.split, accuracy, output_dir / EVALUATION_FILE)
        return record
    rows = list(predictions(module, modality, cfg.split, trainer.predict(module, dataloaders=loader)))
    write_atomic(output_dir / PREDICTIONS_FILE, as_csv(rows))
    record["predictions"] = {"file": PREDICTIONS_FILE, "rows": len(rows)}
    write_json_atomic(output_dir / EVALUATION_FILE, record)
    log.info("%d predictions on %s in %s", len(rows), cfg.split, output_dir / PREDICTIONS_FILE)
    return record


def predictions(
    module: ArenaModule, modality: Modality, split: str, batches: list[tuple[torch.Tensor, VectorSet]]
) -> Iterator[dict[str, Any]]:
    """One row per scored element (per set for per-set targets), in the split's order.

    Columns: the set's and the element's index, the modality's identity columns
    (:meth:`~framework.core.modality.Modality.describe`), the element's subsets (``ambiguous``,
    ``unknown``), the label and the prediction (class names where the modality has them).
    """
    spec = module.spec
    name = (lambda c: spec.class_names[int(c)]) if spec.class_names else int
    first = 0
    for predicted, batch in batches:
        for offset in range(batch.num_sets):
            index = first + offset
            identity = modality.describe(split, index)
            if spec.target is Target.SET:
                yield {"set": index, **identity, "label": name(batch.y[offset]), "prediction": name(predicted[offset])}
                continue
            labels, guesses = batch.y[offset], predicted[offset]
            for element in torch.nonzero(batch.mask[offset] & (labels != IGNORE_INDEX)).flatten().tolist():
                row = {"set": index, "element": element}
                row |= {key: value[element] if isinstance(value, list) else value for key, value in identity.items()}
                if batch.subsets is not None:
                    row |= {subset: bool(batch.subsets[offset, element, s]) for s, subset in enumerate(spec.subsets)}
                yield row | {"label": name(labels[element]), "prediction": name(guesses[element])}
        first += batch.num_sets


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    """``rows`` as CSV, the first row's keys as the header."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["set", "label", "prediction"])
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def load_run(folder: str | Path, **settings: Any) -> LoadedRun:
    """A finished run's model, modality and config, for a notebook: ``model, modality, config = load_run(folder)``.

    ``folder``: the run folder (or a ``.ckpt`` file); ``settings``: config values to change as on the
    command line (``{"modality.batch_size": 8}``). The modality is set up, so its loaders are ready.
    """
    from hydra import compose, initialize_config_dir

    from framework.core.sources import CONF_DIR

    overrides = [f"{key}={value}" for key, value in settings.items()]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", [*overrides, "mode=test", f"ckpt_path={folder}", f"output_dir={folder}"])
    parts, module, config, _ = rebuilt(cfg, overrides)
    return LoadedRun(module, parts.modality, config)
