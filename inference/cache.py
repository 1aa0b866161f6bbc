"""The project's own compile cache, and arithmetic that does not depend on it.

PyTensor compiles C code for every graph into a *compiledir*, and the numba functions
nutpie samples with into ``<base_compiledir>/numba``. By default both live under
``~/.pytensor``, shared by every project and invisible to the user. The workbench points
PyTensor's ``base_compiledir`` at ``.cache/pytensor`` beside ``run_models.py``
(documented, git-ignored, cleared with ``run_models.py clear-cache``), so that a second
process, a rerun or a Dask worker finds what the first compiled, and "cold" means
something a user can reproduce: an empty folder. A ``compiledir`` or ``base_compiledir``
the user sets in ``PYTENSOR_FLAGS`` wins.

**Same seed, same draws, cold or warm.** With PyTensor's default ``numba__fastmath=True``
LLVM may reassociate sums, contract multiply-adds and approximate functions, and it does
so differently when a function is compiled fresh in a process (inlined into its callers)
than when it is loaded from numba's cache. The log density then differs in its last bits
between an empty and a warm cache, and a few hundred leapfrog steps later the chains are
different chains: on the default data the gaussian cohesion model's draws differed by up
to 0.26 between a cold and a warm process with fastmath, and were bit-identical without
it, at the same sampling time (7.2 vs 7.3 s; ``bench/bench_determinism.py``).
:func:`reproducible_arithmetic` therefore turns fastmath off unless the user's
``PYTENSOR_FLAGS`` sets it; numba's cache key includes the setting, so entries compiled
with fastmath are never loaded in its place.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["CACHE_DIR", "JAX_CACHE_DIR", "JAX_HOST_DEVICES", "clear_cache", "jax_host_devices",
           "reproducible_arithmetic", "use_jax_cache", "use_project_cache"]

CACHE_DIR = Path(__file__).resolve().parent.parent / ".cache" / "pytensor"
JAX_CACHE_DIR = CACHE_DIR.parent / "jax"  # XLA executables of ``--sampler numpyro``


def use_project_cache(directory: Path = CACHE_DIR) -> Path | None:
    """Point PyTensor's ``base_compiledir`` (C modules and numba's cache) at ``directory``
    for this process and its children.

    Returns the folder, or ``None`` where it cannot apply: the user's ``PYTENSOR_FLAGS``
    names a compiledir, or PyTensor is already imported (its config is read at import).
    """
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "compiledir" in flags or "pytensor" in sys.modules:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PYTENSOR_FLAGS"] = ",".join(
        f for f in (flags, f"base_compiledir={directory}") if f)
    return directory


def reproducible_arithmetic() -> bool:
    """Compile numba functions without fastmath (see the module's docstring) unless the
    user's ``PYTENSOR_FLAGS`` chooses; returns whether fastmath is now off."""
    import pytensor

    if "numba__fastmath" not in os.environ.get("PYTENSOR_FLAGS", ""):
        pytensor.config.numba__fastmath = False
    return not pytensor.config.numba__fastmath


JAX_HOST_DEVICES = 4  # XLA CPU devices at least: NumPyro runs one chain per device


def jax_host_devices(count: int | None = None) -> str:
    """Let XLA split the CPU into ``max(JAX_HOST_DEVICES, cores)`` devices (``XLA_FLAGS``,
    read when JAX starts its backend), so that NumPyro's default four chains run in
    parallel threads instead of one vectorised loop; a device count the user set wins.
    Harmless where JAX is never used. Returns the flags."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = count or max(JAX_HOST_DEVICES, os.cpu_count() or 1)
        flags = f"{flags} --xla_force_host_platform_device_count={count}".strip()
        os.environ["XLA_FLAGS"] = flags
    return flags


def use_jax_cache(directory: Path = JAX_CACHE_DIR) -> Path | None:
    """Keep JAX's compiled XLA executables in ``directory`` (its persistent compilation
    cache, every compile kept however short), unless the user set a cache dir; returns
    the folder in use."""
    import jax

    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


def clear_cache(*directories: Path) -> int:
    """Remove the project's compile caches (PyTensor's and numba's, JAX's; or the folders
    given); returns the bytes freed."""
    size = 0
    for directory in directories or (CACHE_DIR, JAX_CACHE_DIR):
        if directory.exists():
            size += sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
            shutil.rmtree(directory)
    return size
