"""The GPU check script: on a machine without a CUDA GPU it stops at once with one line."""

from __future__ import annotations

import subprocess

import pytest
import torch
from conftest import ROOT


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU the script runs the whole check")
def test_without_a_gpu_the_check_stops_with_one_line_and_status_2():
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: benchmarks/gpu_check.sh needs a CUDA GPU and torch sees none; run it on a GPU machine"
    )
    assert done.stdout == ""
