"""The project's own compile cache: ``.cache/pytensor`` beside ``run_models.py``.

PyTensor compiles C code for every graph and keeps it in a *compiledir*; nutpie's numba
functions are cached there too. By default that is ``~/.pytensor``, shared by every
project and invisible to the user. The workbench points PyTensor at a folder of its own
(documented, git-ignored, cleared with ``run_models.py clear-cache``), so that a second
process, a rerun or a Dask worker finds what the first compiled, and "cold" means
something a user can reproduce: an empty folder. A ``compiledir`` the user sets in
``PYTENSOR_FLAGS`` wins.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["CACHE_DIR", "clear_cache", "use_project_cache"]

CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache" / "pytensor"


def use_project_cache(directory: Path = CACHE_DIR) -> Path | None:
    """Point PyTensor's compiledir at ``directory`` for this process and its children.

    Returns the folder, or ``None`` where it cannot apply: the user's ``PYTENSOR_FLAGS``
    names a compiledir, or PyTensor is already imported (its config is read at import).
    """
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "compiledir" in flags or "pytensor" in sys.modules:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, f"compiledir={directory}") if f)
    return directory


def clear_cache(directory: Path = CACHE_DIR) -> int:
    """Remove the project's compile cache; returns the bytes freed."""
    if not directory.exists():
        return 0
    size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    shutil.rmtree(directory)
    return size
