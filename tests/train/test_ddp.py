"""Training over several processes (DDP): exact metrics over whole splits, files written once, SLURM jobs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from conftest import CONF, QUIET, ROOT
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from framework.core.errors import ConfigError
from framework.train.build import assemble, build_parts

# Odd split sizes (629 test, 117 validation images) and 2-image evaluation batches: the two processes get
# unequal shares and unequal numbers of batches, where a padding sampler would score one image twice.
MODEL_AND_DATA = [
    "modality=image",
    "model=attn",
    "model.dim=16",
    "model.layers=1",
    "modality.test_fraction=0.35",
    "modality.val_fraction=0.1",
    "modality.eval_batch_size=2",
]
TWO_CPU_PROCESSES = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
DDP_RUN = [*MODEL_AND_DATA, *TWO_CPU_PROCESSES, "trainer.max_epochs=1", *QUIET]


def run_py(*args: str, cwd: Path, cache: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Starts ``python run.py ...`` in ``cwd`` with the shared derived-data cache."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        env={**os.environ, "ARENA_CACHE_DIR": str(cache), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen) -> str:
    """Waits for ``process`` (killing it if it hangs), asserts it succeeded and returns its output."""
    try:
        output, _ = process.communicate(timeout=600)  # a guard against a hang, far above a loaded run
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Path:
    """The working folder of one ``run.py`` with two CPU processes; the run itself is in ``run/``."""
    folder = tmp_path_factory.mktemp("ddp")
    finished(run_py(*DDP_RUN, f"hydra.run.dir={folder / 'run'}", cwd=folder, cache=shared_cache))
    return folder


def test_two_processes_score_every_test_set_exactly_once(ddp_run, make_config):
    results = json.loads((ddp_run / "run" / "results.json").read_text())
    parts = build_parts(make_config(*MODEL_AND_DATA))
    parts.modality.setup("test")
    module = assemble(parts)
    checkpoint = torch.load(ddp_run / "run" / results["checkpoint"], map_location="cpu", weights_only=True)
    module.load_state_dict(checkpoint["state_dict"])
    module.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():  # the whole test split in this one process
        for batch in parts.modality.test_dataloader():
            logits = module(batch)
            correct += int((logits.argmax(dim=-1) == batch.y).sum())
            loss += float(F.cross_entropy(logits, batch.y, reduction="sum"))
    size = len(parts.modality.splits["test"])

    assert size % 2 == 1
    assert results["test"]["acc"] == pytest.approx(correct / size, abs=1e-6)
    assert results["test"]["loss"] == pytest.approx(loss / size, rel=1e-5)


def test_two_processes_write_the_run_folder_once_from_the_first(ddp_run):
    run = ddp_run / "run"
    second = (run / "train_ddp_process_1.log").read_text()  # the second process logs into the same folder

    assert "GLOBAL_RANK: 1" in second
    assert [path.parent for path in ddp_run.rglob("results.json")] == [run]
    assert [path.parent for path in ddp_run.rglob(".hydra")] == [run]
    assert sorted(path.name for path in (run / "attention").iterdir()) == [f"example{i}-layer1.png" for i in range(4)]
    assert "attention maps in" in (run / "run.log").read_text() and "attention maps in" not in second
    assert "results in" in (run / "run.log").read_text() and "results in" not in second


def test_a_multirun_refuses_to_start_ddp_processes_itself(cli, tmp_path):
    result = cli("-m", *DDP_RUN, "seed=0", f"hydra.sweep.dir={tmp_path / 'sweep'}")

    assert result.returncode == 1
    [failed] = [json.loads(path.read_text()) for path in (tmp_path / "sweep").glob("*/results.json")]
    assert failed["status"] == "failed"
    assert "cannot start DDP processes" in failed["error"] and "experiment=slurm_ddp" in failed["error"]
    assert not list(tmp_path.rglob("train_ddp_process_*.log"))


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_processes_started_by_slurm_train_one_multirun_job_together(tmp_path, shared_cache):
    # What srun gives each task of a one-node, two-task job (submitit runs every task through Hydra's job).
    slurm = {
        "SLURM_NTASKS": "2",
        "SLURM_NTASKS_PER_NODE": "2",
        "SLURM_NNODES": "1",
        "SLURM_NODEID": "0",
        "SLURM_JOB_ID": "7",
        "SLURM_JOB_NAME": "run",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
    }
    sweep = [
        "-m",
        *DDP_RUN,
        "sweep.report=false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"sweep.index_dir={tmp_path / 'done'}",
    ]
    tasks = [
        run_py(
            *sweep,
            cwd=tmp_path,
            cache=shared_cache,
            env={**slurm, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)},
        )
        for rank in (0, 1)
    ]
    logs = [finished(task) for task in tasks]

    assert all("train_ddp_process" not in log for log in logs)
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in logs[1]
    [job] = (tmp_path / "sweep").glob("*/results.json")
    assert json.loads(job.read_text())["status"] == "ok"
    assert len(list((tmp_path / "done").iterdir())) == 1


def test_a_single_graph_cannot_be_shared_by_ddp_processes(make_config):
    modality = build_parts(make_config("modality=graph", "modality.dataset=sbm", "model=gnn")).modality
    modality.setup("fit")
    modality.trainer = pl.Trainer(strategy="ddp", accelerator="cpu", devices=2, logger=False)

    with pytest.raises(ConfigError, match=r"trainer.devices=2: .* holds only 1 set.*trainer.devices=1"):
        modality.train_dataloader()


def test_the_slurm_ddp_preset_takes_nodes_and_processes_per_node_from_the_trainer():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["experiment=slurm_ddp", "trainer.num_nodes=3", "trainer.devices=2"],
            return_hydra_config=True,
        )
    launcher = instantiate(cfg.hydra.launcher)
    sizes = {key: launcher.params[key] for key in ("nodes", "tasks_per_node", "gpus_per_node")}

    assert type(launcher).__name__ == "SlurmLauncher" and cfg.trainer.strategy == "ddp"
    assert sizes == {"nodes": 3, "tasks_per_node": 2, "gpus_per_node": 2}
