"""Atomic file writing: a partial file never replaces a good one.

Every table, figure, fit and task result the workbench writes goes through
:func:`atomic_write`: the content is written to a hidden temporary file beside the target
(named with the process id, so concurrent writers never share one) and moved over the
target in one ``os.replace``. An interrupted run leaves either the old file or the new one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write", "write_csv", "write_text"]


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path, then move it onto ``path``.

    The temporary file keeps the target's suffix (some writers choose the format by it)
    and is removed when ``write`` fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV without its index, atomically."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text, atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
