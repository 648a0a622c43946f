"""What stands at a path where a file is read: reading a named pipe waits for a writer, a device never ends."""

from __future__ import annotations

import stat
from pathlib import Path

KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def not_a_file(path: Path) -> str | None:
    """What ``path`` is (``a named pipe``, ``a character device``) when it exists and is not a regular file, else None.

    Links are followed; a link to nothing is None, as a missing file is.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return next((kind for is_kind, kind in KINDS if is_kind(mode)), None)
