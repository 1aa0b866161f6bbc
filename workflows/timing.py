"""Wall seconds and peak resident memory per phase of a workflow, for ``run.json`` and the
closing console line."""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PhaseClock", "resident_mb"]

SAMPLE_EVERY_S = 0.2  # how often the memory sampler reads the resident set size


def resident_mb() -> float:
    """This process's resident set size now, in MB (``/proc/self/statm``; where there is
    none, the peak so far from ``getrusage``)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


class PhaseClock:
    """Accumulates wall seconds per named phase (a phase entered twice adds up) and the peak
    resident memory seen during each phase (``peak_mb``; a daemon thread samples the
    resident set size every :data:`SAMPLE_EVERY_S` seconds while any phase is open, so a
    peak shorter than that can be missed; ``peak_total_mb`` is the kernel's own peak)."""

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds: dict[str, float] = dict(seconds or {})
        self.peak_mb: dict[str, float] = {}
        self._start = time.perf_counter()
        self._open: dict[int, float] = {}  # open phase token -> peak seen in it
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while True:
            rss = resident_mb()
            with self._lock:
                if not self._open:
                    self._thread = None
                    return
                for token, peak in self._open.items():
                    self._open[token] = max(peak, rss)
            time.sleep(SAMPLE_EVERY_S)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        t0 = time.perf_counter()
        token = object()
        with self._lock:
            self._open[id(token)] = resident_mb()
            if self._thread is None:
                self._thread = threading.Thread(target=self._sample, daemon=True,
                                                name="phase-memory")
                self._thread.start()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t0
            with self._lock:
                peak = max(self._open.pop(id(token)), resident_mb())
            self.peak_mb[phase] = round(max(self.peak_mb.get(phase, 0.0), peak), 1)

    @property
    def total(self) -> float:
        """Seconds since the clock was made."""
        return time.perf_counter() - self._start

    @property
    def peak_total_mb(self) -> float:
        """The process's peak resident memory so far (``getrusage``: KiB on Linux), in MB."""
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6, 1)

    def line(self) -> str:
        """``phase 12 s, phase 3 s, ...`` largest first."""
        parts = sorted(self.seconds.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{k} {v:.0f} s" for k, v in parts)
