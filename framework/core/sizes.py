"""Sizes checked with arithmetic, never by enumerating or allocating: divisors, and whether a model fits in memory."""

from __future__ import annotations

import os
from collections.abc import Mapping

from framework.core.errors import ConfigError

BYTES_PER_PARAMETER = 16
"""Memory training needs per parameter: fp32 weights, their gradients and an Adam-style optimizer's two moments."""
SHOWN_DIVISORS = 12
"""Divisors listed in a message; a number with more is shown by its first and last ones."""


def divisors(n: int) -> list[int]:
    """The positive divisors of ``n`` in increasing order, in O(√n) steps (a trillion takes a second, not forever)."""
    small, large = [], []
    d = 1
    while d * d <= n:
        if n % d == 0:
            small.append(d)
            if d * d != n:
                large.append(n // d)
        d += 1
    return small + large[::-1]


def listed(values: list[int]) -> str:
    """``1, 2, 4, 8``; a long list as its first and last values with how many there are."""
    if len(values) <= SHOWN_DIVISORS:
        return ", ".join(map(str, values))
    half = SHOWN_DIVISORS // 2
    return f"{', '.join(map(str, values[:half]))}, ..., {', '.join(map(str, values[-half:]))} ({len(values)} in all)"


def approximately(count: int) -> str:
    """``1.2e+09``: a count of any size as a short number (Python's ints outgrow floats past 1e308)."""
    return f"{count:.3g}" if count < 10**300 else f"10^{len(str(count)) - 1}"


def physical_memory() -> int:
    """This machine's memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def require_fits(sizes: Mapping[str, int], parameters: int) -> None:
    """Raises :class:`ConfigError` when a model of ``parameters`` could not be trained in this machine's memory.

    ``parameters`` is a lower bound on the count; ``sizes`` are the options that set it (``{"dim": 64,
    "layers": 3}``), and the largest is named as the key to change. Plugins call this with a closed-form
    count before building anything, so ``dim=10**12`` is refused at once, not after allocating until the machine stops.
    """
    need, have = parameters * BYTES_PER_PARAMETER, physical_memory()
    if need > have:
        key = max(sizes, key=sizes.__getitem__)  # the outlier: dim=10**12 beside layers=3, layers=10**8 beside dim=128
        value = sizes[key]
        others = ", ".join(f"{name}={size}" for name, size in sizes.items() if name != key)
        raise ConfigError(
            key,
            value,
            f"{'with ' + others + ', ' if others else ''}the model would have at least {approximately(parameters)} "
            f"parameters and need {approximately(need // 2**30)} GiB to train, more than this machine's "
            f"{have // 2**30} GiB; use smaller sizes",
        )
