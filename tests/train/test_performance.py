"""Performance options: precision reaches the trainer, and ``compile.enabled`` trains a torch.compile'd model."""

from __future__ import annotations

import torch

from framework.train.run import run

TINY = ["model.dim=16", "model.layers=1", "model.heads=2", "callbacks.attention_maps=null"]


def test_the_configured_precision_is_the_precision_training_used(make_config):
    results = run(make_config(*TINY, "trainer.precision=bf16-mixed"))
    assert results["status"] == "ok"
    assert results["precision"] == "bf16-mixed"


def test_compile_enabled_trains_and_tests_through_compiled_graphs(make_config):
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    results = run(make_config(*TINY, "compile.enabled=true"))
    assert results["status"] == "ok"
    assert counters["stats"]["unique_graphs"] > 0, "torch.compile captured no graph"
    torch._dynamo.reset()
