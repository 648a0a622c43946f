"""The window benchmark's anchors: FlexAttention is skipped on CPU with its reason, and judged where it ran."""

from __future__ import annotations

import argparse

from conftest import load_benchmark

bench = load_benchmark("window_attention")


def test_flex_attention_forward_backward_on_cpu_is_skipped_with_the_reason():
    args = argparse.Namespace(device="cpu")
    assert bench.child("flex", 1024, "forward_backward", args) == {
        "skipped": "FlexAttention has no backward pass on CPU"
    }


def test_the_flex_anchor_is_a_target_only_where_it_ran_forward_backward():
    window, band = {16_384: 0.5}, {16_384: 25.0}
    found = bench.figures(window, band, {}, {}, None, None, 4096, flex={16_384: 0.2})
    flex = [f for f in found if "FlexAttention" in f["figure"]]
    assert len(flex) == 1 and flex[0]["ratio"] == 2.5 and flex[0]["target"] == "<= 2" and not flex[0]["met"]
    assert not [f for f in bench.figures(window, band, {}, {}, None, None, 4096) if "FlexAttention" in f["figure"]]
