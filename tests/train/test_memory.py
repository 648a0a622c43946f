"""Kept freed memory (glibc): large blocks reused inside the block, given back after it, nothing changed when off.

Each measurement runs in a fresh interpreter: the C library's allocator keeps state from everything the
test process did before (other tests' tensors, thresholds), and the figures must not depend on it.
"""

import json
import platform
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from framework.train import memory

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="keeps memory under glibc only"
)
PAGES = 64 * 2**20 // 4096  # a 64 MB tensor: over glibc's 32 MB ceiling for reusing freed blocks by itself

MEASURE = f"""
import json, resource
from pathlib import Path
import torch
from framework.train.memory import kept_freed_memory

def faults_per_tensor(times=4):
    for _ in range(8):  # the first ones grow the C library's heap until a freed block fits the next
        torch.empty({PAGES} * 1024).fill_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        torch.empty({PAGES} * 1024).fill_(1.0)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / times

def resident_mb():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024
"""


def measured(scenario: str) -> dict:
    """What ``scenario`` (Python using :data:`MEASURE`'s helpers) prints as JSON, run in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", MEASURE + scenario], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@glibc_only
def test_a_freed_large_tensor_is_reused_without_faulting_its_pages_in_again():
    # Outside the block the figure is the kernel's as much as glibc's (huge pages can fault 64 MB in a few
    # faults), so only the block's own promise is asserted.
    figures = measured(
        "with kept_freed_memory() as kept:\n"
        "    inside = faults_per_tensor()\n"
        "print(json.dumps({'kept': kept, 'inside': inside}))\n"
    )
    assert figures["kept"] and figures["inside"] < PAGES / 20


@glibc_only
def test_leaving_the_block_hands_the_kept_memory_back_to_the_system():
    figures = measured(
        "with kept_freed_memory():\n"
        "    faults_per_tensor()\n"
        "    holding = resident_mb()\n"
        "print(json.dumps({'holding': holding, 'after': resident_mb()}))\n"
    )
    assert figures["holding"] - figures["after"] > 48, "the freed 64 MB tensor stays resident until the block ends"


def test_disabled_it_changes_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_glibc", lambda: SimpleNamespace(mallopt=lambda *a: calls.append(a), malloc_trim=None))
    with memory.kept_freed_memory(enabled=False) as kept:
        torch.empty(PAGES * 1024).fill_(1.0)
    assert not kept and calls == []
