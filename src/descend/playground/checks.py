"""The playground's requests, checked field by field before any work is done.

Every check raises :class:`BadRequest`, whose message names the field and says what was
expected and what came in (``runs[1].lr must be a number or null, got "fast"``); the
server answers it with status 400 and ``{"error": message}``. The limits keep one request
small and bounded: at most :data:`MAX_RUNS` runs of at most :data:`MAX_ITER` updates, a
grid of at most :data:`MAX_GRID` points a side, a body of at most :data:`MAX_BODY` bytes.

>>> whole_number(500, "max_iter", 1, MAX_ITER)
500
>>> whole_number(10**6, "max_iter", 1, MAX_ITER)
Traceback (most recent call last):
...
descend.playground.checks.BadRequest: max_iter must be a whole number from 1 to 100000, got 1000000
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from descend._validate import closest

__all__ = [
    "MAX_BODY",
    "MAX_GRID",
    "MAX_ITER",
    "MAX_RUNS",
    "BadRequest",
    "RunSpec",
    "fields",
    "finite_numbers",
    "flag",
    "named",
    "run_specs",
    "text",
    "whole_number",
    "window",
]

MAX_BODY = 64 * 1024  # bytes in a request body
MAX_RUNS = 8  # runs in one request (the page shows up to 6)
MAX_ITER = 100_000  # updates in one run
MAX_GRID = 400  # grid points along each side of a contour grid
RUN_FIELDS = ("method", "lr", "hyperparameters")
# Optimizer fields a JSON value cannot stand for, or that have a field of their own.
NOT_HYPERPARAMETERS = {"lr": "give it as the run's own field lr", "project": "it takes a function"}


class BadRequest(ValueError):
    """A request the playground refuses, with a message naming the field.

    ``column`` is where a formula that does not parse goes wrong (counted from 1), so
    that the page can underline it; ``variables`` are the objective's, when the point
    given has another size, so that the page can offer inputs for each. Both are in the
    answer when set.
    """

    def __init__(
        self, message: str, column: int | None = None, variables: Sequence[str] | None = None
    ) -> None:
        super().__init__(message)
        self.column = column
        self.variables = variables

    def payload(self) -> dict[str, Any]:
        """The JSON body of the 400 answer."""
        answer: dict[str, Any] = {"error": str(self)}
        if self.column is not None:
            answer["column"] = self.column
        if self.variables is not None:
            answer["variables"] = list(self.variables)
        return answer


class RunSpec(NamedTuple):
    """One run a request asks for: a method name, its lr (None: the method's own) and its
    other hyperparameters."""

    method: str
    lr: float | None
    hyperparameters: dict[str, Any]


@contextmanager
def named(prefix: str) -> Iterator[None]:
    """Turn descend's own argument errors (ValueError, TypeError) inside the block into a
    BadRequest whose message starts with ``prefix``, the field they came from."""
    try:
        yield
    except BadRequest:
        raise
    except (ValueError, TypeError) as error:
        raise BadRequest(f"{prefix}: {error}") from None


def shown(value: Any) -> str:
    """``value`` as JSON, cut to 60 characters: what came in, in the request's own terms."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):  # pragma: no cover - every parsed JSON value dumps
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fields(
    value: Any, name: str, allowed: Sequence[str], required: Sequence[str] = ()
) -> dict[str, Any]:
    """``value`` as a JSON object with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be a JSON object, got {shown(value)}")
    for key in value:
        if key not in allowed:
            raise BadRequest(
                f"{name} has an unknown field {key!r}{closest(key, allowed)}; "
                f"it takes {', '.join(allowed)}"
            )
    for key in required:
        if key not in value:
            raise BadRequest(f"{name} needs the field {key!r}")
    return value


def text(value: Any, name: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name} must be a non-empty string, got {shown(value)}")
    return value


def number(value: Any, name: str) -> float | int:
    """A finite JSON number (true and false are not numbers); an int stays an int."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{name} must be a number, got {shown(value)}")
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be finite, got {value!r}")
    return value


def finite_numbers(value: Any, name: str) -> list[float]:
    """A non-empty array of finite numbers, as floats."""
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{name} must be a non-empty array of numbers, got {shown(value)}")
    return [float(number(item, f"{name}[{i}]")) for i, item in enumerate(value)]


def whole_number(value: Any, name: str, low: int, high: int) -> int:
    """An integer from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}, got {shown(value)}")
    return value


def flag(value: Any, name: str) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false, got {shown(value)}")
    return value


def window(value: Any, name: str = "bounds") -> tuple[tuple[float, float], tuple[float, float]]:
    """``[[xmin, xmax], [ymin, ymax]]`` with each min below its max and a finite width."""
    expected = f"{name} must be [[xmin, xmax], [ymin, ymax]]"
    if not (isinstance(value, list) and len(value) == 2):
        raise BadRequest(f"{expected}, got {shown(value)}")
    sides = []
    for i, side in enumerate(value):
        if not (isinstance(side, list) and len(side) == 2):
            raise BadRequest(f"{expected}, got {shown(value)}")
        low, high = (float(number(v, f"{name}[{i}][{j}]")) for j, v in enumerate(side))
        if not (low < high and math.isfinite(high - low)):
            raise BadRequest(f"{name}[{i}] must have min < max and a finite width, got {side}")
        sides.append((low, high))
    return sides[0], sides[1]


def run_specs(value: Any, name: str = "runs") -> list[RunSpec]:
    """From 1 to :data:`MAX_RUNS` runs, each ``{"method", "lr", "hyperparameters"}``."""
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{name} must be a non-empty array of runs, got {shown(value)}")
    if len(value) > MAX_RUNS:
        raise BadRequest(f"{name} may hold at most {MAX_RUNS} runs, got {len(value)}")
    return [_run_spec(item, f"{name}[{i}]") for i, item in enumerate(value)]


def _run_spec(value: Any, name: str) -> RunSpec:
    run = fields(value, name, RUN_FIELDS, required=("method",))
    method = text(run["method"], f"{name}.method")
    lr = run.get("lr")
    if lr is not None:
        lr = number(lr, f"{name}.lr")
    given = run.get("hyperparameters", {})
    if not isinstance(given, dict):
        raise BadRequest(f"{name}.hyperparameters must be a JSON object, got {shown(given)}")
    hyperparameters = {}
    for key, setting in given.items():
        where = f"{name}.hyperparameters.{key}"
        if key in NOT_HYPERPARAMETERS:
            raise BadRequest(f"{where} cannot be set here: {NOT_HYPERPARAMETERS[key]}")
        if setting is not None and not isinstance(setting, bool):
            setting = number(setting, where)
        hyperparameters[key] = setting
    return RunSpec(method, lr, hyperparameters)
