"""What a request's ``objective`` names: a test function of :data:`descend.functions.ZOO`
by its name, else a formula read by :func:`descend.parse`.

A formula's text is parsed once and kept (the page asks for the same formula on every
change of a hyperparameter); a formula that does not parse is a BadRequest carrying the
column of the error, so that the page can underline it.

>>> problem = resolve("(x-1)**2 + 3*y**2", 2)
>>> problem.variables, problem.fun([1.0, 0.0])
(('x', 'y'), 0.0)
>>> resolve("rosenbrock", 3).variables
('x0', 'x1', 'x2')
>>> resolve("x +* y", 2)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
descend.playground.checks.BadRequest: objective: formula has a syntax error at position 4 ...
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from descend.gradients.formulas import Formula, parse_cached
from descend.problems.functions import ZOO, TestFunction

from .checks import BadRequest

__all__ = ["Problem", "resolve", "zoo_variables"]

_POSITION = re.compile(r"at position (\d+)")


class Problem(NamedTuple):
    """An objective ready for ``minimize``: ``fun`` (a Formula or a TestFunction, each
    with its exact ``.grad``), its variables' names in the order of ``x``, and the test
    function when it is one (None for a formula)."""

    fun: Any
    variables: tuple[str, ...]
    function: TestFunction | None


def zoo_variables(size: int) -> tuple[str, ...]:
    """The names of a test function's coordinates, as ``descend minimize`` prints them."""
    return tuple(f"x{i}" for i in range(size))


def resolve(objective: str, size: int, field: str = "objective") -> Problem:
    """The objective named by ``objective``, for points of ``size`` coordinates.

    Raises
    ------
    BadRequest
        The formula does not parse (with the column), or it or the test function does not
        take ``size`` coordinates (a formula's variables then go with the error).
    """
    if objective in ZOO:
        function = ZOO[objective]
        fits = size >= function.min_dim if function.dim is None else size == function.dim
        if not fits:
            want = function.dim if function.dim is not None else f"{function.min_dim} or more"
            raise BadRequest(f"x0 has {_numbers(size)}, but {objective} takes {want}")
        return Problem(function, zoo_variables(size), function)
    formula = _parsed(objective.strip(), field)
    names = formula.variables
    if len(names) != size:
        raise BadRequest(
            f"x0 has {_numbers(size)}, but the {field} has {len(names)} "
            f"variable{'s' * (len(names) != 1)} ({', '.join(names)}): give one number for each",
            variables=names,
        )
    return Problem(formula, formula.variables, None)


def _numbers(count: int) -> str:
    return f"{count} number{'s' * (count != 1)}"


def _parsed(text: str, field: str) -> Formula:
    try:
        return parse_cached(text)
    except (ValueError, TypeError) as error:
        found = _POSITION.search(str(error))
        raise BadRequest(f"{field}: {error}", int(found.group(1)) if found else None) from None
