"""Derived files in the cache folder: used only if they read back whole and from the same inputs; rebuilt otherwise."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from framework.core.errors import DataError
from framework.io.atomic import write_atomic
from framework.io.file_kind import not_a_file

log = logging.getLogger(__name__)

T = TypeVar("T")


class Stale(ValueError):
    """Raised by a cache's ``decode`` for a file that reads well but was made from other inputs or settings."""


def cached(path: Path, build: Callable[[], T], encode: Callable[[T], bytes], decode: Callable[[bytes], T]) -> T:
    """The value cached at ``path``, or ``build()`` (then written to ``path``) when there is none or it cannot be used.

    ``decode`` turns the file's bytes back into the value and raises when they are not what
    ``build`` would give now: :class:`Stale` for a file made from other inputs (its settings are
    stored inside and compared), anything else for a damaged one. Either is rebuilt with a
    warning, never used. A link to nothing is rebuilt too. A cache file that cannot be replaced
    (a folder in its place, a read-only cache folder) is a :class:`DataError` naming it.
    """
    if kind := not_a_file(path):
        raise DataError(f"{path} is {kind} where a cache file belongs; remove it, or choose another cache_dir")
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # no cache yet, or a link to nothing
        data = None
    except OSError as error:
        log.warning("cache file %s is unreadable (%s); rebuilding it", path, error.strerror or error)
        data = None
    if data is not None:
        try:
            return decode(data)
        except Stale as error:
            log.warning("cache file %s was made from other inputs (%s); rebuilding it", path, error)
        except Exception as error:  # noqa: BLE001 - a damaged cache is rebuilt, never trusted
            log.warning("cache file %s is unreadable (%s: %s); rebuilding it", path, type(error).__name__, error)
    value = build()
    try:
        write_atomic(path, encode(value))
    except OSError as error:
        raise DataError(
            f"cannot write the cache file {path} ({error.strerror or error}); "
            f"make {path.parent} a writable folder or choose another cache_dir"
        ) from None
    return value
