"""Timing shared by the benchmarks: contenders timed in turn, so a busy machine slows all alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved(*runs: Callable[[], object], repeats: int = 7) -> list[float]:
    """Median seconds of each run, timed in turn: a, b, c, a, b, c, ... (``repeats`` rounds)."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, spent in zip(runs, times, strict=True):
            start = time.perf_counter()
            run()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]
