import platform
import resource
from pathlib import Path

import pytest
import torch

from framework.train.memory import kept_freed_memory

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="keeps memory under glibc only"
)
PAGES = 64 * 2**20 // 4096  # a 64 MB tensor: over glibc's 32 MB ceiling for reusing freed blocks by itself


def faults_per_tensor(times: int = 4) -> float:
    """Minor page faults per 64 MB tensor made, written through and freed, ``times`` over after 8 unmeasured."""
    for _ in range(8):  # the first ones grow the C library's heap until a freed block fits the next
        torch.empty(PAGES * 1024).fill_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        torch.empty(PAGES * 1024).fill_(1.0)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / times


@glibc_only
def test_a_freed_large_tensor_is_reused_without_faulting_its_pages_in_again():
    assert faults_per_tensor() > PAGES / 2, "glibc's default: every large tensor is mapped fresh"
    with kept_freed_memory() as kept:
        assert kept
        assert faults_per_tensor() < PAGES / 20


def resident_mb() -> float:
    """This process's resident memory now (``VmRSS``), in MB."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@glibc_only
def test_leaving_the_block_hands_the_kept_memory_back_to_the_system():
    with kept_freed_memory():
        faults_per_tensor()
        holding = resident_mb()
    assert holding - resident_mb() > 48, "the freed 64 MB tensor stays resident until the block ends"


def test_disabled_it_changes_nothing():
    with kept_freed_memory(enabled=False) as kept:
        assert not kept
        if platform.libc_ver()[0] == "glibc":
            assert faults_per_tensor() > PAGES / 2
