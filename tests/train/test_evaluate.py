"""Using a trained model: mode=test scores it again exactly, mode=predict explains each score, load_run rebuilds it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from conftest import CONF, QUIET
from hydra import compose, initialize_config_dir

from framework.core.batch import IGNORE_INDEX
from framework.core.errors import ConfigError, DataError
from framework.train.evaluate import EVALUATION_FILE, PREDICTIONS_FILE, evaluate, load_run
from framework.train.run import run

TRAINED = {
    "image": ["modality=image", "model=attn", "model.dim=16", "model.layers=1"],
    "text": ["modality=text", "modality.dataset=ambiguity", "modality.sentences=200", "model=rnn", "model.dim=16"],
}
"""Small runs of a per-set task (digits) and a per-element one (generated tagging), each trained two epochs."""


def composed(*overrides: str) -> object:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[*QUIET, *overrides])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> dict[str, Path]:
    """The folders of the two finished runs of :data:`TRAINED`."""
    folders = {}
    for name, overrides in TRAINED.items():
        folder = tmp_path_factory.mktemp(name) / "run"
        run(composed(*overrides, "trainer.max_epochs=2", f"output_dir={folder}", f"cache_dir={shared_cache}"))
        folders[name] = folder
    return folders


def evaluated(folder: Path, out: Path, cache: Path, *overrides: str) -> dict:
    """Runs ``mode=test`` (or what ``overrides`` say) on the run in ``folder``, writing into ``out``."""
    command = ["mode=test", f"ckpt_path={folder}", *overrides]
    return evaluate(composed(*command, f"output_dir={out}", f"cache_dir={cache}"), command)


@pytest.mark.parametrize("name", sorted(TRAINED))
def test_mode_test_scores_the_run_exactly_as_the_run_did(finished, tmp_path, shared_cache, name):
    results = json.loads((finished[name] / "results.json").read_text())

    tested = evaluated(finished[name], tmp_path / "test", shared_cache)
    validated = evaluated(finished[name], tmp_path / "val", shared_cache, "split=val")

    assert tested["metrics"] == results["test"]
    assert validated["metrics"] == results["best_val"]
    assert tested["config_hash"] == results["config_hash"]  # the same config, rebuilt from the checkpoint
    assert json.loads((tmp_path / "test" / EVALUATION_FILE).read_text()) == tested


def test_data_settings_may_change_and_the_scores_stay(finished, tmp_path, shared_cache):
    results = json.loads((finished["text"] / "results.json").read_text())

    tested = evaluated(finished["text"], tmp_path, shared_cache, "modality.eval_batch_size=7")

    assert tested["metrics"]["acc"] == pytest.approx(results["test"]["acc"], abs=1e-6)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.dim=32", r"model\.dim=32: .*best\.ckpt holds a model trained with model\.dim=16"),
        ("model=cnn", r"model='cnn': .*holds a model trained with model=attn"),
        ("modality=text", r"modality='text': .*holds a model trained with modality=image"),
        ("modality.dataset=mnist", r"modality\.dataset='mnist': .*trained with modality\.dataset=digits"),
        ("modality.patch=2", r"modality\.patch=2: .*holds a model trained with modality\.patch=1"),
        ("modality.test_fraction=0.5", r"modality\.test_fraction=0\.5: .*trained with modality\.test_fraction=0\.2"),
        ("modality.val_fraction=0.5", r"modality\.val_fraction=0\.5: .*trained with modality\.val_fraction=0\.15"),
        ("seed=5", r"seed=5: .*holds a model trained with seed=0; leave seed out"),
    ],
    ids=["model_option", "model", "modality", "dataset", "input_shape", "test_split", "val_split", "seed"],
)
def test_a_setting_that_contradicts_the_checkpoint_is_refused(finished, tmp_path, shared_cache, override, message):
    with pytest.raises(ConfigError, match=message):
        evaluated(finished["image"], tmp_path, shared_cache, override)
    assert not (tmp_path / EVALUATION_FILE).exists()


def test_ckpt_path_must_name_a_finished_run(finished, tmp_path, shared_cache):
    with pytest.raises(ConfigError, match=r"ckpt_path=None: mode=test and mode=predict score a trained model"):
        evaluate(composed("mode=test", f"output_dir={tmp_path}"), [])
    with pytest.raises(ConfigError, match=r"holds no checkpoints/best\.ckpt: name a finished run's folder"):
        evaluated(tmp_path, tmp_path / "out", shared_cache)
    stray = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, stray)
    with pytest.raises(DataError, match=r"other\.ckpt was not written by Attention Arena"):
        evaluated(stray, tmp_path / "out", shared_cache)


def test_training_with_a_checkpoint_is_refused_rather_than_ignored(make_config, finished):
    with pytest.raises(ConfigError, match=r"ckpt_path=.*mode=train trains from scratch.*add mode=test"):
        run(make_config(f"ckpt_path={finished['image']}"))


def read_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / PREDICTIONS_FILE).open(newline="") as file:
        return list(csv.DictReader(file))


def test_predictions_of_a_per_element_task_have_a_row_per_labelled_word(finished, tmp_path, shared_cache):
    results = json.loads((finished["text"] / "results.json").read_text())
    model, modality, _ = load_run(finished["text"], cache_dir=shared_cache)
    words = sum(int(((batch.y != IGNORE_INDEX) & batch.mask).sum()) for batch in modality.test_dataloader())

    record = evaluated(finished["text"], tmp_path, shared_cache, "mode=predict")
    rows = read_rows(tmp_path)

    assert len(rows) == record["predictions"]["rows"] == words
    assert list(rows[0]) == ["set", "element", "word", "ambiguous", "unknown", "label", "prediction"]
    assert rows[0]["label"] in {"NOUN", "VERB", "ADJ", "DET", "PRON", "ADP", "PUNCT", "INTJ", "AUX", "CCONJ", "ADV"}
    correct = sum(row["label"] == row["prediction"] for row in rows) / len(rows)
    assert correct == pytest.approx(results["test"]["acc"], abs=1e-6)
    first = [row["word"] for row in rows if row["set"] == "0"]
    assert first == list(modality.words["test"][0])  # the words of the split's first sentence, in order


def test_predictions_of_a_per_set_task_have_a_row_per_image_naming_it(finished, tmp_path, shared_cache):
    results = json.loads((finished["image"] / "results.json").read_text())
    _, modality, _ = load_run(finished["image"], cache_dir=shared_cache)
    images, labels = modality._digits()

    evaluated(finished["image"], tmp_path, shared_cache, "mode=predict")
    rows = read_rows(tmp_path)

    assert len(rows) == len(modality.splits["test"])
    assert all(int(row["label"]) == labels[int(row["image"])] for row in rows)  # each row names its image
    correct = sum(row["label"] == row["prediction"] for row in rows) / len(rows)
    assert correct == pytest.approx(results["test"]["acc"], abs=1e-6)


def test_load_run_gives_the_trained_model_its_modality_and_config(finished, shared_cache):
    results = json.loads((finished["image"] / "results.json").read_text())

    model, modality, config = load_run(finished["image"], cache_dir=shared_cache)
    with torch.no_grad():
        hits = [(model(batch).argmax(-1) == batch.y).float() for batch in modality.test_dataloader()]

    assert not model.training
    assert config.model.dim == 16 and config.modality.name == "image"
    assert float(torch.cat(hits).mean()) == pytest.approx(results["test"]["acc"], abs=1e-6)
