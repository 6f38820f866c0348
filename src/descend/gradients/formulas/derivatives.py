"""Exact derivatives of parsed formulas, built rule by rule within a budget of nodes.

SymPy's ``diff`` has no bound on its work: the derivative of ``log(abs(...))`` nested
14 deep takes it 40 s (``Abs`` differentiates through ``re`` and ``im`` and doubles at
every level), and a Hessian of a 100-factor product a minute. Here every node of a
derivative is made by one of the textbook rules below, with no simplification pass, and
the size of each tree (its nodes counted with repeats, as the code printed from it has
them) is added up as the tree is built. A derivative that would pass :data:`MAX_NODES`
stops there with :class:`TooLarge`, after work in proportion to the budget.

The rules cover what the parser makes: numbers, symbols, sums, products, powers and the
functions of :data:`~descend.gradients.formulas.parser.FUNCTIONS`. ``d|u| = sign(u) du``
and ``d max(u, v) = H(u - v) du + H(v - u) dv`` (Heaviside's step, 1/2 at a tie, so a
tie takes the mean of the two slopes; ``min`` likewise; of more arguments, the steps of
each against the others' maximum, divided by their sum, so that t tied arguments take
1/t each), and the steps' own derivatives
are 0: the second derivative of ``abs`` or ``max`` is 0, as SymPy's ``DiracDelta`` is
wherever it is finite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .parser import Expr

__all__ = ["MAX_NODES", "TooLarge", "Underivable", "gradient", "hessian"]

# Nodes in a gradient (all its components together) or a Hessian (its upper triangle).
# Printing, common-subexpression elimination and compiling take about 25 µs a node here,
# so the budget keeps each under half a second; a formula typed by hand is far below it.
MAX_NODES = 20_000


class TooLarge(ValueError):
    """A derivative past the budget; ``what`` is ``"gradient"`` or ``"Hessian"``."""

    def __init__(self, what: str) -> None:
        super().__init__(f"its {what} would have more than {MAX_NODES:,} nodes")
        self.what = what


class Underivable(ValueError):
    """A function SymPy put in the expression that has no derivative in closed form."""

    def __init__(self, name: str) -> None:
        super().__init__(f"SymPy wrote it with {name}(), which has no derivative in closed form")


def gradient(expr: Expr, symbols: tuple[Expr, ...]) -> tuple[Expr, ...]:
    """``(df/ds for s in symbols)``, within :data:`MAX_NODES` nodes in all.

    >>> import sympy
    >>> x, y = sympy.symbols("x y", real=True)
    >>> gradient(x**2 * sympy.sin(y), (x, y))
    (2*x*sin(y), x**2*cos(y))
    >>> a = sympy.symbols("a0:150", real=True)
    >>> gradient(sympy.Mul(*a), a)  # 150 products of 149 factors
    Traceback (most recent call last):
    ...
    descend.gradients.formulas.derivatives.TooLarge: its gradient would have more than 20,000 nodes
    """
    rules = _Rules("gradient")
    return tuple(rules.derivative(expr, s) for s in symbols)


def hessian(gradient: tuple[Expr, ...], symbols: tuple[Expr, ...]) -> tuple[tuple[Expr, ...], ...]:
    """Rows ``d(df/dv_i)/dv_j``: the upper triangle derived, the lower one mirrored.

    >>> import sympy
    >>> x, y = sympy.symbols("x y", real=True)
    >>> hessian((2*x*sympy.sin(y), x**2*sympy.cos(y)), (x, y))
    ((2*sin(y), 2*x*cos(y)), (2*x*cos(y), -x**2*sin(y)))
    """
    rules = _Rules("Hessian")
    n = len(symbols)
    upper = {
        (i, j): rules.derivative(gradient[i], symbols[j]) for i in range(n) for j in range(i, n)
    }
    return tuple(tuple(upper[min(i, j), max(i, j)] for j in range(n)) for i in range(n))


class _Rules:
    """Derivatives sharing one budget and one memo of what each subtree gives."""

    def __init__(self, what: str) -> None:
        import sympy

        self.sp = sympy
        self.what = what
        self.sizes: dict[Expr, int] = {}
        self.memo: dict[tuple[Expr, Expr], Expr] = {}
        self.used = 0

    def derivative(self, expr: Expr, s: Expr) -> Expr:
        result = self._d(expr, s)
        self.used += self.size(result)
        self._check()
        return result

    def size(self, expr: Expr) -> int:
        """Nodes of ``expr`` counted with repeats, remembered for every subtree."""
        known = self.sizes.get(expr)
        if known is None:
            known = self.sizes[expr] = 1 + sum(self.size(a) for a in expr.args)
        return known

    def _check(self, extra: int = 0) -> None:
        if self.used + extra > MAX_NODES:
            raise TooLarge(self.what)

    def _d(self, expr: Expr, s: Expr) -> Expr:
        sp = self.sp
        if s not in expr.free_symbols:
            return sp.S.Zero
        if expr == s:
            return sp.S.One
        key = (expr, s)
        if key not in self.memo:
            result = self._rule(expr, s)
            self._check(self.size(result))  # no single piece may pass the budget either
            self.memo[key] = result
        return self.memo[key]

    def _rule(self, expr: Expr, s: Expr) -> Expr:
        sp = self.sp
        args = expr.args
        if expr.is_Add:
            return sp.Add(*self._pieces(self._d(a, s) for a in args))
        if expr.is_Mul:  # the product rule, one term per factor that holds s
            terms = (
                sp.Mul(*args[:k], self._d(a, s), *args[k + 1 :])
                for k, a in enumerate(args)
                if s in a.free_symbols
            )
            return sp.Add(*self._pieces(terms))
        if expr.is_Pow:
            base, exponent = args
            if s not in exponent.free_symbols:
                return exponent * base ** (exponent - 1) * self._d(base, s)
            return expr * (self._d(exponent, s) * sp.log(base) + exponent * self._d(base, s) / base)
        if isinstance(expr, (sp.re, sp.im)):  # parts of a complex value, which SymPy writes
            return expr.func(self._d(args[0], s))  # for acos(x) and the like past |x| = 1
        if isinstance(expr, (sp.Max, sp.Min)) and len(args) > 2:
            return self._tied(expr, s)
        if isinstance(expr, sp.Function):  # the chain rule, through every argument
            outer = _OUTER.get(type(expr).__name__)
            if outer is not None:  # a function of args[0] (Heaviside's H0 is a number)
                return outer(sp, args[0]) * self._d(args[0], s)
            slopes = (
                expr.fdiff(k + 1) * self._d(a, s) for k, a in enumerate(args) if s in a.free_symbols
            )
            slope = sp.Add(*self._pieces(slopes))
        else:
            slope = sp.diff(expr, s)  # nothing the parser makes; SymPy's rule, still counted
        if slope.has(sp.Derivative):
            raise Underivable(type(expr).__name__)
        return slope

    def _tied(self, expr: Expr, s: Expr) -> Expr:
        """The slope of a ``max`` or ``min`` of three or more arguments, the mean of the
        tied arguments' slopes. SymPy's step of each argument, H(a_k - the max of the
        others), is 1/2 for every one of t tied arguments, t/2 in all; divided by the sum of
        the steps, each takes 1/t (and a lone maximum 1/1)."""
        sp = self.sp
        steps = [expr.fdiff(k + 1) for k in range(len(expr.args))]
        terms = (h * self._d(a, s) for h, a in zip(steps, expr.args, strict=True)
                 if s in a.free_symbols)  # fmt: skip
        return sp.Add(*self._pieces(terms)) / sp.Add(*steps)

    def _pieces(self, pieces: Iterable[Expr]) -> list[Expr]:
        """The terms of a sum, checked against the budget one by one as they are made."""
        made, total = [], 0
        for piece in pieces:
            made.append(piece)
            total += self.size(piece)
            self._check(total)
        return made


# d f(u) / du for each function a formula may call (as SymPy names them).
_OUTER: dict[str, Callable[[Any, Expr], Expr]] = {
    "sin": lambda sp, u: sp.cos(u),
    "cos": lambda sp, u: -sp.sin(u),
    "tan": lambda sp, u: 1 + sp.tan(u) ** 2,
    "asin": lambda sp, u: 1 / sp.sqrt(1 - u**2),
    "acos": lambda sp, u: -1 / sp.sqrt(1 - u**2),
    "atan": lambda sp, u: 1 / (1 + u**2),
    "sinh": lambda sp, u: sp.cosh(u),
    "cosh": lambda sp, u: sp.sinh(u),
    "tanh": lambda sp, u: 1 - sp.tanh(u) ** 2,
    "exp": lambda sp, u: sp.exp(u),
    "log": lambda sp, u: 1 / u,
    "Abs": lambda sp, u: sp.sign(u),
    "sign": lambda sp, u: sp.S.Zero,
    "Heaviside": lambda sp, u: sp.S.Zero,
}
