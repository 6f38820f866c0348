"""Where in a formula a problem is, for error messages: a position counted from 1, like an
editor's column, and the line repeated with a caret under it."""

from __future__ import annotations

import re

__all__ = ["at", "forbidden", "position", "too_deep"]

# Levels of nesting: parentheses, calls, powers, signs (Python allows 200).
MAX_DEPTH = 50


def position(text: str, lineno: int, col: int) -> int:
    """The index in ``text`` of a (line, column) of the parenthesised text, clipped."""
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", "(" + text + ")")]
    index = starts[min(max(lineno, 1), len(starts)) - 1] + col - 1
    return min(max(index, 0), len(text))


def at(text: str, index: int, note: str = "", fix: str = "") -> str:
    """``at position 7 (note); fix:``, then the line of the text with a caret under it."""
    start = max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1
    ends = [i for i in (text.find("\n", index), text.find("\r", index)) if i >= 0]
    line, column = text[start : min(ends, default=len(text))], index - start
    if len(line) > 72:  # a window around the position
        first = max(0, min(column - 36, len(line) - 72))
        line = (
            ("..." if first else "") + line[first : first + 72] + "..." * (first + 72 < len(line))
        )
        column += 3 * (first > 0) - first
    note = f" ({note})" if note else ""
    fix = f"; {fix}" if fix else ""
    return f"at position {index + 1}{note}{fix}:\n  {line.expandtabs(1)}\n  {' ' * column}^"


def forbidden(text: str, index: int, description: str) -> ValueError:
    """``formula may not use <what> at position N; <fix>:`` from ``"<what>; <fix>"``."""
    what, _, fix = description.partition("; ")
    return ValueError(f"formula may not use {what} {at(text, index, fix=fix)}")


def too_deep(text: str, index: int | None = None) -> str:
    fix = "simplify it or write it as a Python function"
    where = at(text, index, fix=fix) if index is not None else f"({len(text)} characters); {fix}"
    return f"formula is nested too deeply (more than {MAX_DEPTH} levels) {where}"
