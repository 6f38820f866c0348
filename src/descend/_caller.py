"""Where a warning meant for the user points: the first frame outside descend."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["caller_level"]


def caller_level() -> int:
    """The ``stacklevel`` for ``warnings.warn`` called by the function that calls this:
    that of the first frame outside descend, the user's own line (1 would be the caller
    itself)."""
    frame: Any = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("descend."):
        frame, level = frame.f_back, level + 1
    return level
