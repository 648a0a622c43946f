"""Keeping freed memory in the process for the next step, instead of handing it back to the system.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves every block over 32 MB
(a ``[8, 4, 16384, 32]`` float tensor is 64 MB) with a fresh ``mmap`` and unmaps it when freed, so
each training step's large activations and gradients are faulted in and zeroed by the kernel page
by page, again at every step; smaller blocks are reused already. Turning ``mmap`` off makes glibc
serve large blocks from its heap too, and a high trim threshold keeps the freed heap for the next
step, as PyTorch's caching allocator does on a GPU. The price is memory: PyTorch asks for 64-byte
aligned blocks, and glibc 2.36 did not hand a freed one back out for the next request of the same
size until several had piled up (a loop over one 64 MB tensor grew the heap eight times before it
settled), so the process may hold up to several times its largest tensors until the block ends. Other C
libraries (musl, macOS) are left as they are.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

# mallopt() parameters and glibc's defaults for them (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_KEEP_ALL = 2**31 - 1  # the largest trim threshold mallopt takes (an int)


@cache  # platform.libc_ver() reads the Python executable
def _glibc() -> ctypes.CDLL | None:
    """The process's glibc, or None under another C library."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)


@contextmanager
def kept_freed_memory(enabled: bool = True) -> Iterator[bool]:
    """Inside the block, memory freed by the process is kept for its next allocations (glibc only).

    Yields whether it is (False when disabled or under another C library). On leaving, glibc's
    limits go back to their default values and the kept memory is returned to the system, so that
    the next job of a sweep run in the same process does not inherit it. (glibc's mmap threshold
    then no longer rises with the blocks freed, as it does in a fresh process.)
    """
    libc = _glibc() if enabled else None
    if libc is None:
        yield False
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_ALL)
    try:
        yield True
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
