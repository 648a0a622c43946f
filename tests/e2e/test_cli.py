"""The command line: bad input, results.json, multirun and W&B, run as a user would run them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import CONF, DATA_DIR, QUIET, config_names

from framework.core.catalogue import scopes

FAST = ["trainer=debug", *QUIET]


def results_files(root: Path) -> list[Path]:
    """The runs' results.json files below ``root`` (not W&B's copies of them among its run files)."""
    return sorted(path for path in root.rglob("results.json") if "wandb" not in path.parts)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["model=attn", "model.heads=3"],
            "model.heads=3: must divide dim=64; allowed values are 1, 2, 4, 8, 16, 32, 64",
        ),
        (["modality.patch=3"], "modality.patch=3: must divide the 8x8 digits images; allowed values are 1, 2, 4, 8"),
        (["optimizer.lr=-0.1"], "optimizer.lr=-0.1: the learning rate must be a positive number"),
        (["modality.train_fraction=1.5"], "modality.train_fraction=1.5: must be in (0, 1]"),
        (["modality.train_fraction=0"], "modality.train_fraction=0: must be in (0, 1]"),
        (["model=rnn", "model.cell=tanh"], "model.cell='tanh': allowed values are lstm, gru"),
        (["+model.depth=2"], "model.depth=2: unknown key"),
        (["model.dim=wide"], "model.dim='wide': must be of type int"),
        (["optimizer.lr=fast"], "optimizer.lr='fast': the learning rate must be a positive number"),
        (
            ["modality=text", "modality.dataset=ambiguity", "modality.min_freq=100000"],
            "modality.min_freq=100000: leaves an empty vocabulary: the most frequent training word occurs",
        ),
        (["modality=text", "model=window_fc", "model.window=-1"], "model.window=-1: must be 0 or more"),
        (["modality=text", "modality.dataset=wiki"], "modality.dataset='wiki': allowed values are ud_ewt, ambiguity"),
        (
            ["+param_groups.first={params:'encoder.nope.*',weight_decay:0.1}"],
            "param_groups.first.params='encoder.nope.*': matches no parameter of this model",
        ),
        (["+param_groups.first={params:'encoder.*',decay:0.1}"], "param_groups.first.decay=0.1: is not an option of"),
        (
            ["callbacks.early_stopping={_target_:framework.train.callbacks.EarlyStop,monitor:val/loss,patience:0}"],
            "callbacks.early_stopping.patience=0: must be a positive integer",
        ),
        (
            ["callbacks.early_stopping={_target_:framework.train.callbacks.EarlyStop,monitor:val/accuracy,patience:5}"],
            "callbacks.early_stopping.monitor='val/accuracy': allowed values are val/loss, val/acc, val/f1",
        ),
        (["+foo=1"], "foo=1: not a config key, so it would change nothing; the top-level keys are mode, ckpt_path,"),
        (["logger=wandb", "logger.log_model=true"], "logger.log_model=True: uploads checkpoints, which needs W&B"),
        (["tags=baseline"], "tags='baseline': must be a list of strings, e.g. tags=[baseline,long]"),
        (["keep_freed_memory=sometimes"], "keep_freed_memory='sometimes': must be true or false"),
        (["model.dim=1000000000000"], "model.dim=1000000000000: with layers=3, ff_mult=2, the model would have at"),
        (["trainer.max_epochs=0"], "trainer.max_epochs=0: trains nothing, so no checkpoint could be chosen"),
        (["trainer.max_epochs=-1"], "trainer.max_epochs=-1: with trainer.max_steps=-1 training has no end"),
        (["trainer.gradient_clip_val=nan"], "trainer.gradient_clip_val=nan: must be a finite number"),
        (["optimizer.lr=inf"], "optimizer.lr=inf: must be a finite number"),
        (["+optimizer.betas=[0.9,-inf]"], "optimizer.betas=[0.9, -inf]: must be a finite number"),
        (["trainer.devices=-5"], "trainer.devices=-5: this machine has"),
        (["modality.train_fraction=1e-9"], "modality.train_fraction=1e-09: keeps 0 of 1,221 images of 10 classes"),
        (["modality.num_workers=1000000000000"], "modality.num_workers=1000000000000: must be from 0 to"),
        (["trainer.devices=1000000000000"], "trainer.devices=1000000000000: this machine has"),
        (["+trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches=0: must be a whole number, 1 or"),
        (
            ["+param_groups.first={params:'nothing*',lr:0.1}"],
            "param_groups.first.params='nothing*': matches no parameter of this model (names start with encoder.,",
        ),
        (
            ["optimizer._target_=torch.optim.SGD", "+optimizer.momentum=2"],
            "optimizer.momentum=2: is the weight of the past in a running average: use a number in [0, 1)",
        ),
        (
            ["+param_groups.first={params:'input_encoder.nope*',lr:0.1}"],
            "param_groups.first.params='input_encoder.nope*': matches no parameter of this model",
        ),
        (["model.name=cnn"], "model.name='cnn': names the model plugins.models.cnn.ConvEncoder, but this run builds"),
    ],
    ids=[
        "heads",
        "patch",
        "lr",
        "fraction_high",
        "fraction_zero",
        "cell",
        "unknown_key",
        "dim_type",
        "lr_type",
        "empty_vocabulary",
        "negative_window",
        "text_dataset",
        "param_group_matching_nothing",
        "param_group_unknown_option",
        "patience_zero",
        "monitor_unknown",
        "unknown_top_level_key",
        "wandb_log_model_offline",
        "tags_not_a_list",
        "keep_freed_memory_not_a_switch",
        "dim_beyond_memory",
        "no_epochs",
        "endless_with_a_schedule",
        "nan_clip",
        "infinite_lr",
        "infinity_in_a_list",
        "negative_devices",
        "fraction_keeping_nothing",
        "workers_beyond_the_cores",
        "devices_beyond_the_machine",
        "accumulating_zero_batches",
        "param_group_no_name_can_match",
        "param_group_for_the_input_encoder_matching_nothing",
        "momentum_beyond_one",
        "model_name_of_another_model",
    ],
)
def test_a_bad_value_fails_before_training_with_one_line_naming_the_key(cli, tmp_path, overrides, message):
    result = cli(*FAST, *overrides)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: invalid config value {message}")
    assert not any(run.is_dir() for run in (tmp_path / "outputs").glob("*/*")), "a run folder was left behind"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["trainer.max_epochs=2", "+trainer.check_val_every_n_epoch=5"],
            "trainer.check_val_every_n_epoch=5: validates after epoch 5 only, but training ends after 2",
        ),
        (["callbacks.checkpoint.save_top_k=0"], "callbacks.checkpoint.save_top_k=0: keeps no checkpoint; the test"),
        (["callbacks.checkpoint=null"], "callbacks.checkpoint=None: the test scores the best validation checkpoint"),
    ],
    ids=["validating_after_the_last_epoch", "keeping_no_checkpoint", "no_checkpoint_callback"],
)
def test_a_training_that_could_choose_no_checkpoint_is_refused_before_the_data_loads(cli, tmp_path, overrides, message):
    result = cli(*QUIET, *overrides)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: invalid config value {message}")
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").glob("*/*"))


def test_a_model_named_by_a_label_of_ones_own_records_that_label(cli, tmp_path):
    result = cli(*FAST, "model.name=my_attention", f"hydra.run.dir={tmp_path / 'run'}")

    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run" / "results.json").read_text())["model"] == "my_attention"


@pytest.mark.parametrize("group", ["modality", "model", "logger", "trainer"])
def test_an_unknown_plugin_name_lists_the_available_ones_in_one_line(cli, group):
    result = cli(f"{group}=nope")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: invalid config value {group}='nope': no such option; the options are {', '.join(config_names(group))}"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.limit_train_batches=2", "Could not override 'trainer.limit_train_batches'; To append to your config"),
        ("seed=[1", "no viable alternative at input '[1'"),
        ("experiment=claims/s9", "experiment='claims/s9': no such option; the options are claims/s1_context,"),
    ],
)
def test_what_hydra_refuses_is_one_line_with_exit_status_2(cli, override, message):
    result = cli(override)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line


def test_a_run_writes_results_with_test_and_best_validation_metrics(cli, tmp_path):
    result = cli("trainer.max_epochs=3", "logger=csv", "seed=1", *QUIET[1:])
    assert result.returncode == 0, result.stderr
    (path,) = results_files(tmp_path / "outputs")
    results = json.loads(path.read_text())
    assert results["modality"] == "image" and results["model"] == "attn" and results["seed"] == 1
    assert set(results["test"]) == set(results["best_val"]) == {"acc", "f1", "loss"}
    assert results["params"] > 0 and results["wall_time_s"] > 0
    # 64 pixels per image; both rates are rounded to 0.1, so 64 × the rounded image rate is off by up to 64 × 0.05.
    throughput = results["throughput"]
    assert abs(throughput["elements_per_s"] - 64 * throughput["samples_per_s"]) <= 64 * 0.05 + 0.05
    assert results["overrides"] == ["trainer.max_epochs=3", "logger=csv", "seed=1", *QUIET[1:]]


def test_the_test_score_comes_from_the_best_validation_checkpoint(cli, tmp_path):
    result = cli("trainer.max_epochs=4", "logger=csv", "optimizer.lr=0.01", *QUIET[1:])
    assert result.returncode == 0, result.stderr
    (path,) = results_files(tmp_path / "outputs")
    results = json.loads(path.read_text())
    rows = [line.split(",") for line in (path.parent / "csv" / "metrics.csv").read_text().splitlines()]
    header = rows[0]
    per_epoch = [float(row[header.index("val/acc")]) for row in rows[1:] if row[header.index("val/acc")]]
    (from_checkpoint,) = [
        float(row[header.index("best_val/acc")]) for row in rows[1:] if row[header.index("best_val/acc")]
    ]
    assert len(per_epoch) == 4 and results["checkpoint"] == "checkpoints/best.ckpt"  # one validation row per epoch
    assert from_checkpoint == pytest.approx(max(per_epoch), abs=1e-6)
    assert results["best_val"]["acc"] == pytest.approx(max(per_epoch), abs=1e-6)


def test_an_incompatible_pair_exits_non_zero_with_one_line(cli, tmp_path):
    result = cli(*FAST, "model=attn", "model.scope=window")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: model 'attn' cannot run on modality 'image': attention scope 'window' is not offered by image "
        "(offered: full, graph); set model.scope to one of those"
    )


def test_one_changed_byte_in_one_recording_is_one_line_naming_that_file(cli, tmp_path):
    recordings = tmp_path / "data" / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for path in (DATA_DIR / "fsdd" / "recordings").iterdir():
        (recordings / path.name).symlink_to(path)
    changed = recordings / "4_yweweler_30.wav"
    data = bytearray(changed.read_bytes())
    data[-1] ^= 0x01
    changed.unlink()
    changed.write_bytes(bytes(data))
    result = cli(*FAST, "modality=speech", f"data_dir={tmp_path / 'data'}")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {recordings}: 1 recording(s) differ from FSDD v1.0.10 (changed: 4_yweweler_30.wav); "
        "delete those files, and the next run puts back the release's copies of the changed ones"
    )


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_two_job_multirun_writes_two_results(cli, tmp_path, launcher):
    result = cli("-m", "model=attn,cnn", *FAST, f"hydra/launcher={launcher}", timeout=600)
    assert result.returncode == 0, result.stderr
    paths = results_files(tmp_path / "multirun")
    assert len(paths) == 2 and paths[0].parent != paths[1].parent
    assert sorted(json.loads(p.read_text())["model"] for p in paths) == ["attn", "cnn"]


def test_an_offline_wandb_run_writes_its_run_files(cli, tmp_path):
    result = cli("trainer=debug", "logger=wandb", *QUIET[1:])
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "outputs").rglob("offline-run-*")
    (run_file,) = run_dir.glob("run-*.wandb")  # what `wandb sync` uploads: config, metrics, summary
    logged = run_file.read_bytes()
    assert b"attention-arena" in logged and b"warmup_fraction" in logged and b"test/acc" in logged


def test_wandb_without_a_key_or_a_mode_logs_offline(cli, tmp_path, monkeypatch):
    for variable in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_SILENT"):  # a fresh install: nothing set
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc, no W&B settings file

    result = cli("trainer=debug", "logger=wandb", *QUIET[1:])

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert results_files(tmp_path / "outputs") and list((tmp_path / "outputs").rglob("offline-run-*"))


def test_many_loggers_log_the_same_run_to_csv_tensorboard_and_wandb(cli, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = cli("trainer.max_epochs=2", "model.dim=16", "model.layers=1", "logger=many", *QUIET[1:])

    assert result.returncode == 0, result.stderr
    (folder,) = [path.parent for path in results_files(tmp_path / "outputs")]
    validated = [line for line in (folder / "csv" / "metrics.csv").read_text().splitlines()[1:] if line]
    events = EventAccumulator(str(folder / "tensorboard")).Reload()
    assert len(events.Scalars("val/acc")) == 2 and events.Scalars("best_val/acc")
    assert len(validated) >= 2 and list((folder / "wandb").glob("offline-run-*"))


def test_tags_reach_every_logger(cli, tmp_path):
    result = cli("trainer=debug", "logger=many", "tags=[baseline,second-try]", *QUIET[1:])

    assert result.returncode == 0, result.stderr
    (folder,) = [path.parent for path in results_files(tmp_path / "outputs")]
    (run_file,) = (folder / "wandb").glob("offline-run-*/run-*.wandb")
    assert b"baseline" in run_file.read_bytes() and b"second-try" in run_file.read_bytes()  # W&B tags
    for logged in (folder / "csv" / "hparams.yaml", folder / "tensorboard" / "hparams.yaml"):
        assert "tags:\n- baseline\n- second-try\n" in logged.read_text()  # with the config


def test_a_run_prints_its_config_as_a_tree_unless_told_not_to(cli):
    shown = cli("trainer=debug", *QUIET, "seed=7")
    hidden = cli("trainer=debug", *QUIET, "seed=7", "print_config=false")

    assert shown.returncode == hidden.returncode == 0, shown.stderr + hidden.stderr
    assert shown.stdout.startswith("config\n") and "├── optimizer" in shown.stdout and "seed: 7" in shown.stdout
    assert "├── optimizer" not in hidden.stdout


def test_an_unreachable_wandb_server_falls_back_to_an_offline_run(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("WANDB_INIT_TIMEOUT", "10")
    result = cli("trainer=debug", "logger=wandb", *QUIET[1:])
    assert result.returncode == 0, result.stderr
    assert "W&B could not start online" in result.stdout + result.stderr
    assert results_files(tmp_path / "outputs") and list((tmp_path / "outputs").rglob("offline-run-*"))


def test_the_console_shows_the_run_with_its_flops_and_no_adverts(cli):
    result = cli("trainer.max_epochs=1", "logger=none", "callbacks.progress=null")
    console = result.stdout + result.stderr

    assert result.returncode == 0, result.stderr
    assert "Tip:" not in console and "litlogger" not in console and "litmodels" not in console
    assert re.search(r"Total FLOPs: \d", console) and "Total FLOPs: 0 " not in console  # one validation set's forward
    assert "In sizes" not in console


@pytest.mark.parametrize("switch", ["callbacks.summary=null", "trainer.enable_model_summary=false"])
def test_either_switch_turns_the_model_summary_off(cli, switch):
    result = cli("trainer=debug", "logger=none", "callbacks.progress=null", switch)

    assert result.returncode == 0, result.stderr
    assert "Total params" not in result.stdout + result.stderr  # neither the arena's summary nor Lightning's own


@pytest.mark.parametrize(
    ("switch", "shown"),
    [
        ("callbacks.progress.refresh_rate=10", True),
        ("callbacks.progress=null", False),
        ("+trainer.enable_progress_bar=false", False),
    ],
)
def test_either_switch_hides_the_progress_bar(cli, switch, shown):
    result = cli("trainer=debug", "logger=none", "callbacks.summary=null", switch)

    assert result.returncode == 0, result.stderr
    assert ("it/s" in result.stdout + result.stderr) is shown  # off: neither the arena's bar nor Lightning's own


@pytest.mark.parametrize("flag", ["--help", "--list"])
def test_help_and_list_do_not_import_torch(modules_imported_by, flag):
    imported = modules_imported_by(flag)
    assert "framework.core.sources" in imported, "run.py did not run"
    assert not {"torch", "pytorch_lightning"} & imported


def test_list_names_every_modality_model_dataset_and_scope(cli):
    result = cli("--list")
    assert result.returncode == 0, result.stderr
    for group in ("modality", "model"):
        for name in config_names(group):
            summary = (CONF / group / f"{name}.yaml").read_text().splitlines()[0].removeprefix("# ")
            assert f"\n  {name}: {summary}\n" in result.stdout
    first_columns = {line[2:].split("  ")[0] for line in result.stdout.splitlines()}
    datasets = {"digits (image)", "mnist (image)", "ud_ewt (text)", "ambiguity (text)", "fsdd (speech)", "sbm (graph)"}
    assert datasets | set(scopes()) <= first_columns


def test_list_shows_each_option_with_its_default_and_comment(cli):
    lines = [line.split(maxsplit=1) for line in cli("--list").stdout.splitlines()]
    assert ["heads=4", "attention heads; must divide dim"] in lines
    assert [
        "positional.kind=sinusoidal",
        "none | sinusoidal | learned (graphs have no order: none is used there)",
    ] in lines
    assert not any(words[0].startswith(("_target_", "name=", "seed=", "data_dir=")) for words in lines if words)


def test_each_dataset_is_listed_with_its_own_note(cli):
    notes = dict(line[2:].split(maxsplit=2)[::2] for line in cli("--list").stdout.splitlines() if " (graph) " in line)
    planetoid = "Planetoid, public split: 20 labels per class, 500 val, 1,000 test"
    assert notes == {"cora": planetoid, "citeseer": planetoid, "pubmed": planetoid, "sbm": "generated"}


def test_help_shows_how_to_list_and_the_groups_a_user_picks_but_not_the_study_arms(cli):
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    assert "python run.py --list" in result.stdout
    groups = result.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    assert "modality: graph, image, speech, text" in groups and "experiment/claims: " in groups
    assert "arm/" not in groups and "hydra/" not in groups


def test_keeping_freed_memory_changes_how_fast_a_run_is_not_what_it_learns(cli, tmp_path):
    small = ("model.dim=16", "model.layers=1", "trainer.max_epochs=2", *QUIET)
    for keep in ("false", "true"):
        assert cli(*small, f"keep_freed_memory={keep}").returncode == 0

    plain, kept = (json.loads(path.read_text()) for path in results_files(tmp_path / "outputs"))
    assert plain["config_hash"] == kept["config_hash"]
    assert plain["test"] == kept["test"] and plain["best_val"] == kept["best_val"]
