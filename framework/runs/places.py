"""Where a run writes, checked before anything is written: names that become one path component, folders
outside the data and the cache, and no finished run of another config overwritten.

A single run is checked when Hydra starts it (:class:`~framework.runs.preflight.OutputFolderCheck`),
every job of a sweep before the first job starts (the arena's sweeper), so a refused command leaves
every folder as it was. Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from framework.core.errors import ConfigError, OutputError
from framework.runs.identity import config_hash
from framework.runs.results import RESULTS_FILE, read_results

PATH_NAMES = ("model.name", "modality.name", "hydra.job.name")
"""Keys whose values become part of a file or folder name (the run folder, the job log)."""


def is_one_component(name: str) -> bool:
    """Whether ``name`` names one file or folder inside another: no separator, not empty, ``.`` or ``..``."""
    return name not in ("", ".", "..") and not any(character in name for character in ("/", "\\", "\0"))


def selected(cfg: DictConfig, key: str) -> object:
    """The resolved value at ``key``; None where it is absent or does not resolve (the run's own checks name it)."""
    try:
        return OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
    except (OmegaConfBaseException, ValueError, KeyError):
        return None


def check_path_names(cfg: DictConfig) -> None:
    """Raises :class:`ConfigError` for a name that would lead a file out of its folder (``model.name=../x``)."""
    callbacks = cfg.get("callbacks") or {}
    files = [f"callbacks.{name}.filename" for name, options in callbacks.items() if isinstance(options, DictConfig)]
    for key in (*PATH_NAMES, *files):
        value = selected(cfg, key)
        if value is not None and not is_one_component(str(value)):
            raise ConfigError(
                key, value, "becomes part of a file or folder name, so it must be one name, without / or .."
            )


def with_output_dir(cfg: DictConfig, folder: Path) -> DictConfig:
    """A copy of ``cfg`` whose ``output_dir`` is ``folder`` (it is Hydra's job folder, known only once the job runs)."""
    copy = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    with open_dict(copy):
        copy.output_dir = str(folder)
    return copy


def written_folders(cfg: DictConfig) -> dict[str, Path]:
    """The folders a run writes into, by key: each logger's ``save_dir``, each callback's ``dirpath``."""
    keys = []
    logger = cfg.get("logger")
    if isinstance(logger, DictConfig):
        keys += ["logger.save_dir"] if "_target_" in logger else [f"logger.{name}.save_dir" for name in logger]
    callbacks = cfg.get("callbacks") or {}
    keys += [f"callbacks.{name}.dirpath" for name, options in callbacks.items() if isinstance(options, DictConfig)]
    return {key: Path(str(value)) for key in keys if (value := selected(cfg, key)) is not None}


def data_folders(cfg: DictConfig) -> dict[str, Path]:
    """``data_dir`` and ``cache_dir`` of ``cfg``, those that resolve (the run's own checks name the others)."""
    return {
        key: Path(str(value)).expanduser().resolve()
        for key in ("data_dir", "cache_dir")
        if (value := selected(cfg, key)) is not None
    }


def check_outside_data(folder: Path, key: str, data: dict[str, Path]) -> None:
    """Raises :class:`OutputError` if ``folder`` (set by ``key``) is, contains or lies inside a data folder."""
    resolved = folder.expanduser().resolve()
    for name, other in data.items():
        if resolved.is_relative_to(other) or other.is_relative_to(resolved):
            where = "is" if resolved == other else "is inside" if resolved.is_relative_to(other) else "contains"
            raise OutputError(f"{key}={folder} {where} {name} ({other}); give the run a folder of its own")


def check_written_folders(cfg: DictConfig, folder: Path) -> None:
    """Raises :class:`OutputError` if a logger or callback of the run in ``folder`` would write into the data."""
    job = with_output_dir(cfg, folder)
    data = data_folders(job)
    for key, written in written_folders(job).items():
        check_outside_data(written, key, data)


def task_config_hash(cfg: DictConfig) -> str | None:
    """The config hash the run of ``cfg`` (Hydra's whole config) will record; None if its config does not resolve."""
    task = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    with open_dict(task):
        task.pop("hydra", None)
    try:
        return config_hash(task, task.sweep.hash_ignores)
    except (OmegaConfBaseException, ValueError, KeyError, TypeError):
        return None


def check_not_finished_by_another(folder: Path, cfg: DictConfig, key: str) -> None:
    """Raises :class:`OutputError` if ``folder`` holds a finished run that this command would overwrite.

    Only training the same config again may use a finished run's folder (a sweep re-run reuses it);
    another config, or scoring a model (``mode=test|predict``), would replace its files.
    """
    try:
        finished = read_results(folder / RESULTS_FILE)
    except (OSError, ValueError, KeyError, TypeError):
        return  # no results, or damaged ones: nothing finished to lose
    if finished.get("status") != "ok":
        return
    mode = cfg.get("mode", "train")
    if mode == "train" and task_config_hash(cfg) == finished.get("config_hash"):
        return
    whose = "of another config, which this command would overwrite" if mode == "train" else f"that mode={mode} alters"
    raise OutputError(
        f"the run folder {folder} holds the finished run {finished.get('model')} on {finished.get('modality')} "
        f"(seed {finished.get('seed')}) {whose}; choose another folder with {key}=<folder>"
    )


def check_run(cfg: DictConfig, folder: Path, key: str) -> None:
    """Checks what the run of ``cfg`` in ``folder`` (set by ``key``) writes besides its names (checked first, by
    :func:`check_path_names`, since the folder is made of them)."""
    check_written_folders(cfg, folder)
    check_not_finished_by_another(folder, cfg, key)
