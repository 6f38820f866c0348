"""A one-line progress display on stderr, redrawn at most ten times a second."""

from __future__ import annotations

import sys
from typing import TextIO


def bar(done: float, total: float, width: int = 20) -> str:
    """``[#####     ]``: the share ``done / total`` of ``width`` characters filled."""
    share = min(done / total, 1.0) if total else 1.0
    return f"[{'#' * int(width * share):<{width}}]"


class Progress:
    """``update(nit, f, grad_norm, elapsed)`` redraws; ``close()`` ends the line."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self._next_draw = 0.0
        self._last: tuple[int, float, float, float] | None = None

    def update(self, nit: int, f: float, grad_norm: float, elapsed: float) -> None:
        self._last = (nit, f, grad_norm, elapsed)
        if elapsed < self._next_draw:
            return
        self._next_draw = elapsed + 0.1
        self._draw(nit, f, grad_norm, elapsed)

    def _draw(self, nit: int, f: float, grad_norm: float, elapsed: float) -> None:
        self.stream.write(
            f"\r{bar(nit, self.total)} {nit}/{self.total} f={f:.6g} |g|={grad_norm:.3g} "
            f"{elapsed:.1f}s"
        )
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._last is not None:
            self._draw(*self._last)
        self.stream.write("\n")
        self.stream.flush()
