"""Formulas as objectives: a vectorised value and the exact gradient and Hessian.

>>> from descend.gradients.formulas import parse
>>> f = parse("exp(x)*sin(y) + 3*y**2")
>>> f.variables, f.gradient_text
(('x', 'y'), ('exp(x)*sin(y)', '6*y + exp(x)*cos(y)'))
>>> float(f([0.0, 1.0])), f.grad([0.0, 0.0])
(3.8414709848078967, array([0., 1.]))

The text is read by :mod:`descend.gradients.formulas.parser`, which runs nothing it
reads; this module derives and evaluates what the parser built.

Conventions
-----------
Variables are ordered by first appearance in the text unless ``variables=`` gives the
order. ``x`` for ``f(x)``, ``f.grad(x)`` and ``f.hessian(x)`` has shape ``(n, ...)``: the
first axis indexes the variables and the rest is vectorised over, as in
:mod:`descend.functions`; a 1-D ``x`` gives a float. Error positions count characters
from 1, like an editor's column, and the message repeats the line with a caret under it.
"""

from __future__ import annotations

import functools
import linecache
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descend._types import Array, ArrayLike

from . import derivatives
from .messages import too_deep
from .parser import Expr, read

__all__ = ["KEPT", "Formula", "parse", "parse_cached"]

KEPT = 128  # formulas parse_cached keeps, the most recently used


def parse(formula: str, variables: Sequence[str] | None = None) -> Formula:
    """Parse a formula into an objective with an exact, symbolic gradient.

    Parameters
    ----------
    formula : str
        An expression in numbers, variables, ``+ - * / **``, parentheses, the constants
        ``pi`` and ``e`` and the functions in :data:`FUNCTIONS` (``sin``, ``exp``, ``log``,
        ``sqrt``, ``abs``, ..., and ``min`` and ``max`` of two or more arguments); at most
        :data:`MAX_LENGTH` characters. Where ``max`` ties, its slope is the mean of the
        tied arguments' slopes; where ``abs`` is at 0, its slope is 0.
    variables : sequence of str, optional
        The order of the variables in ``x``. Every name the formula uses must be listed;
        a listed name it does not use is allowed (its derivative is 0). Default: order of
        first appearance in the text.

    Returns
    -------
    Formula
        Callable on ``x`` of shape ``(n, ...)``, with ``.grad`` and ``.hessian``.

    Raises
    ------
    TypeError
        If ``formula`` is not a str, or ``variables`` is not a sequence of str.
    ValueError
        If the formula uses anything outside the grammar above, has a syntax error, is
        too long or too deeply nested, has a constant that is not a finite real number
        (``1/0``, ``log(-1)``, ``9**9**9``), uses a name missing from ``variables``, or
        has a gradient too large to derive exactly (more than
        :data:`~descend.gradients.formulas.derivatives.MAX_NODES` nodes). The message
        names the construct and points at its position.

    Examples
    --------
    >>> f = parse("(x-1)**2 + 3*y**2")
    >>> f
    Formula('(x-1)**2 + 3*y**2', variables=('x', 'y'))
    >>> f.grad([3.0, 4.0]), f.hessian([3.0, 4.0])
    (array([ 4., 24.]), array([[2., 0.],
           [0., 6.]]))
    >>> parse("x.__class__")
    Traceback (most recent call last):
    ...
    ValueError: formula may not use attribute access ('.') at position 2:
      x.__class__
       ^

    Notes
    -----
    Nothing in the text is ever run: it is parsed to a syntax tree, checked against a
    whitelist and translated to SymPy objects one node at a time. The numeric code comes
    from :func:`sympy.lambdify`, which writes Python from the SymPy expression (never from
    the text), with the variables renamed to dummies. The derivatives are built rule by
    rule within a budget of nodes (:mod:`~descend.gradients.formulas.derivatives`), and
    the Hessian only when asked for, so every step takes under a second; a Hessian over
    the budget is refused when asked for, leaving the gradient to use. Parsing takes
    milliseconds; the first call also imports SymPy (about half a second).

    SymPy simplifies as it builds, and some simplifications widen the domain:
    ``sqrt(x)**2`` and ``exp(log(x))`` become ``x``, defined for negative x too. Write
    such a formula in the form whose domain you mean, or bound x with a projection.
    """
    return Formula(*read(formula, variables))


def parse_cached(formula: str, variables: Sequence[str] | None = None) -> Formula:
    """:func:`parse`, remembered: one Formula per text and variables in a process (the
    :data:`KEPT` most recently used), for the entry points that take a formula's text on
    every call (``minimize``, ``sweep``, ``plot_contours``, the playground), where parsing
    (several milliseconds) costs more than a short run. A Formula holds nothing a run
    changes, so runs share it (and what it derives on first use). Arguments that
    :func:`parse` would refuse go to it unremembered, for its error.

    Examples
    --------
    >>> f = parse_cached("(x-1)**2 + 3*y**2")
    >>> parse_cached("(x-1)**2 + 3*y**2") is f, parse_cached("(x-1)**2 + 3*y**2", ["y", "x"]) is f
    (True, False)
    """
    if variables is None:
        names = None
    elif isinstance(variables, list | tuple) and all(isinstance(v, str) for v in variables):
        names = tuple(variables)
    else:
        return parse(formula, variables)
    return _kept(formula, names) if isinstance(formula, str) else parse(formula, variables)


@functools.lru_cache(maxsize=KEPT)
def _kept(formula: str, variables: tuple[str, ...] | None) -> Formula:
    return parse(formula, variables)


class Formula:
    """A parsed formula: value, exact gradient and Hessian, vectorised over points.

    Make one with :func:`parse`. Attributes: ``text``, ``variables`` (names in the order
    of ``x``), ``symbols`` and ``expr`` (SymPy), ``gradient_expr`` and ``gradient_text``
    (one derivative per variable) and, derived on first use, ``hessian_expr``.

    Examples
    --------
    >>> import numpy as np
    >>> f = parse("x**2 * y")
    >>> f.gradient_text
    ('2*x*y', 'x**2')
    >>> X, Y = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(0, 2, 3))
    >>> f(np.stack([X, Y])).shape, f.grad(np.stack([X, Y])).shape
    ((3, 5), (2, 3, 5))

    Notes
    -----
    As in :mod:`descend.functions`, the first axis of ``x`` indexes the variables (a grid
    is ``np.stack([X, Y])``), unlike SciPy's one row per point. Complex ``x`` is evaluated
    in complex arithmetic, so complex-step differentiation works on formulas without
    ``abs``, ``min`` and ``max``. Where a formula is undefined (``log`` of a negative
    number) the value is ``nan``, with NumPy's warning. The second derivatives of
    ``abs``, ``min`` and ``max`` are taken as 0. A formula pickles as its text and
    variables, and is parsed again when loaded.
    """

    def __init__(self, text: str, variables: tuple[str, ...], expr: Expr) -> None:
        import sympy

        self.text = text
        self.variables = variables
        self.symbols = tuple(sympy.Symbol(name, real=True) for name in variables)
        self.expr = expr
        try:
            self.gradient_expr = _guarded(text, derivatives.gradient, expr, self.symbols)
            _check_real(text, variables, expr, self.gradient_expr)
            self._value = _numeric(self.symbols, expr)
            self._gradient = _numeric(self.symbols, list(self.gradient_expr))
        except RecursionError:
            raise ValueError(too_deep(text)) from None
        self._both: Callable[..., Any] | None = None
        self._hessian: tuple[tuple[Expr, ...], ...] | None = None
        self._hessian_fn: Callable[..., Any] | None = None

    @property
    def gradient_text(self) -> tuple[str, ...]:
        """The derivatives as SymPy prints them, one per variable."""
        return tuple(str(d) for d in self.gradient_expr)

    @property
    def hessian_expr(self) -> tuple[tuple[Expr, ...], ...]:
        """Second derivatives, row i holding d²f/dv_i dv_j (derived on first use)."""
        if self._hessian is None:
            self._hessian = _guarded(
                self.text, derivatives.hessian, self.gradient_expr, self.symbols
            )
        return self._hessian

    def __call__(self, x: ArrayLike) -> Any:
        """``f(x)``: a float for 1-D ``x``, an array of shape ``x.shape[1:]`` otherwise."""
        points, _ = self._points(x)
        return _scalar_or_grid(self._value(*points), points)

    def grad(self, x: ArrayLike) -> Array:
        """The exact gradient, of the shape of ``x``."""
        points, shape = self._points(x)
        return _stack(self._gradient(*points), points).reshape(shape)

    def value_and_grad(self, x: ArrayLike) -> tuple[Any, Array]:
        """``(f(x), grad f(x))`` from one call that computes shared subexpressions once."""
        points, shape = self._points(x)
        if self._both is None:
            self._both = _numeric(self.symbols, [self.expr, *self.gradient_expr])
        value, *grad = self._both(*points)
        return _scalar_or_grid(value, points), _stack(grad, points).reshape(shape)

    def hessian(self, x: ArrayLike) -> Array:
        """The exact Hessian: shape ``(n, n)`` for 1-D ``x``, ``(n, n, ...)`` for a grid."""
        points, _ = self._points(x)
        if self._hessian_fn is None:
            flat = [h for row in self.hessian_expr for h in row]
            self._hessian_fn = _numeric(self.symbols, flat)
        n = len(self.variables)
        return _stack(self._hessian_fn(*points), points).reshape((n, n, *points.shape[1:]))

    def _points(self, x: ArrayLike) -> tuple[np.ndarray, tuple[int, ...]]:
        """``x`` as an array of shape ``(n, ...)``, and the shape its gradient takes."""
        points = np.asarray(x)
        if points.dtype.kind != "c":  # complex stays complex, for complex-step derivatives
            points = points.astype(np.float64, copy=False)
        n = len(self.variables)
        if points.ndim == 0 and n == 1:  # a scalar for a formula in one variable
            return points.reshape(1), ()
        if points.ndim == 0 or points.shape[0] != n:
            raise ValueError(
                f"x must have shape ({n},) or ({n}, ...) for {self.text!r} with variables "
                f"{self.variables}, got shape {points.shape}; the first axis indexes the "
                f"variables (use np.stack([X, Y]) for a grid)"
            )
        return points, points.shape

    def __repr__(self) -> str:
        return f"Formula({self.text!r}, variables={self.variables!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (parse, (self.text, self.variables))  # no code is pickled, only the text


# What to do instead of a derivative too large to derive exactly.
_INSTEAD = {
    "gradient": "write it as a Python function, which descend differentiates with autograd "
    "or by differences, or in a form with fewer repeated parts",
    "Hessian": "take differences of its gradient instead (f.grad is exact)",
}


def _guarded(text: str, derive: Callable[..., Any], *args: Any) -> Any:
    """``derive(*args)``, a refusal worded for the formula and what to do instead."""
    try:
        return derive(*args)
    except derivatives.TooLarge as error:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(
            f"formula {shown!r} is too large to differentiate exactly: {error} "
            f"(descend's bound on symbolic derivatives); {_INSTEAD[error.what]}"
        ) from None
    except derivatives.Underivable as error:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(
            f"formula {shown!r} cannot be differentiated exactly: {error}; {_INSTEAD['gradient']}"
        ) from None


def _check_real(
    text: str, variables: tuple[str, ...], expr: Expr, gradient: tuple[Expr, ...]
) -> None:
    """A last guard: no infinity or imaginary unit in f or its derivatives."""
    import sympy

    bad = (sympy.I, sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
    for name, e in [("", expr), *zip(variables, gradient, strict=True)]:
        what = f"derivative with respect to {name}" if name else "value"
        if e.has(*bad):
            raise ValueError(f"formula {text!r} has a {what} that is not finite and real: {e}")
        # SymPy's numbers have no bound; float64 ends at 1.8e308 (x*1e308*10 folds to 1e309*x).
        for number in e.atoms(sympy.Number):
            if not math.isfinite(float(number)):
                raise ValueError(
                    f"formula {text!r} has a constant that is too large for floating point "
                    f"(above 1.8e308) in its {what}, {number.evalf(3)}; rescale the formula"
                )


# Numeric functions ----------------------------------------------------------------------


def _numeric(symbols: tuple[Expr, ...], exprs: Any) -> Callable[..., Any]:
    """NumPy code for a SymPy expression, or for a list of them.

    lambdify writes Python source and executes it. That source is printed from the SymPy
    tree, whose nodes are all whitelisted numbers, operators and functions, with the
    variables renamed _0, _1, ... (names a formula cannot use), so no text of the formula
    reaches it.

    A square is printed as a product, ``(a*a)``, its base named first when it is not a
    variable: NumPy squares an array so, but a scalar's ``a**2`` calls the C library's
    pow, which is slower and now and then a last bit off the rounded square. So a
    formula's value at one point is the one its grid gives there, and the compiled
    engine's product is the same arithmetic (see :mod:`descend.engines._compiled_formula`).
    """
    import sympy

    renamed: dict[Expr, Expr] = {s: sympy.Symbol(f"_{i}", real=True) for i, s in enumerate(symbols)}

    def prepared(e: Expr) -> Expr:
        """``e`` renamed, big integers as floats (NumPy takes no Python int past int64).

        Rebuilt without evaluation: SymPy's xreplace evaluates every node again, and
        with the new symbols' assumptions unknown, ``Abs`` of nested logs asks them
        exponentially often.
        """
        if e in renamed:
            return renamed[e]
        if e.is_Integer and abs(e.p) > 2**53:
            return e.evalf(15)
        if not e.args:
            return e
        if isinstance(e, sympy.Heaviside):  # SymPy prints it as a Piecewise of its argument
            return sympy.Function("_step")(prepared(e.args[0]))
        rebuilt = e.func(*map(prepared, e.args), evaluate=False)
        renamed[e] = rebuilt
        return rebuilt

    many = isinstance(exprs, list)
    exprs = [prepared(e) for e in exprs] if many else prepared(exprs)
    args = [renamed[s] for s in symbols]
    modules = [{"_step": _step}, "numpy"]
    shared = _shared if many else _squares_named
    printer = _printer()(
        {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True,
         "user_functions": {"_step": "_step"}}
    )  # fmt: skip  # lambdify's own settings for the NumPy printer
    function = sympy.lambdify(args, exprs, modules=modules, cse=shared, printer=printer)
    # lambdify puts the source in linecache and deletes it when the function is collected;
    # a collection in the middle of Python 3.11's linecache.checkcache (pdb, doctest) then
    # raises KeyError. So the source moves onto the function (the compiled engine reads it).
    name = function.__code__.co_filename
    function.source = "".join(linecache.getlines(name))
    linecache.cache.pop(name, None)
    return function


def _step(u: Any) -> Any:
    """Heaviside's step, 1/2 at 0: the slope of ``max(u, 0)``, a tie split evenly."""
    return np.heaviside(u, 0.5)


def _shared(exprs: list[Expr]) -> tuple[list[tuple[Expr, Expr]], list[Expr]]:
    """Subtrees that occur more than once, each computed once.

    SymPy's own ``cse`` also searches for common parts of sums and products first,
    work that grows faster than the trees do; repeated subtrees are what derivatives have.
    """
    import sympy
    from sympy.simplify.cse_main import tree_cse

    replacements, reduced = tree_cse(exprs, sympy.numbered_symbols("_c"), opt_subs={}, order="none")
    return _squares_named(reduced, replacements)


def _squares_named(
    exprs: Any, replacements: Sequence[tuple[Expr, Expr]] = ()
) -> tuple[list[tuple[Expr, Expr]], Any]:
    """``replacements`` and ``exprs`` (one or a list) with the base of every square that
    is not a symbol named, before its first use: ``(b)**2`` becomes ``_s**2`` with
    ``_s = b``, which :func:`_printer`'s printer writes ``(_s*_s)``; so does ``x/(b)**2``
    (``x*b**-2``, printed as a quotient)."""
    import sympy

    names = sympy.numbered_symbols("_s")
    named: list[tuple[Expr, Expr]] = []
    done: dict[Expr, Expr] = {}

    def visit(e: Expr) -> Expr:
        if not e.args or e in done:
            return done.get(e, e)
        rebuilt = e.func(*map(visit, e.args), evaluate=False)
        if rebuilt.is_Pow and abs(rebuilt.exp) == 2 and not rebuilt.base.is_Symbol:
            name = next(names)
            named.append((name, rebuilt.base))
            rebuilt = sympy.Pow(name, rebuilt.exp, evaluate=False)
        done[e] = rebuilt
        return rebuilt

    for symbol, value in replacements:
        named.append((symbol, visit(value)))  # after the names its value uses
    exprs = [visit(e) for e in exprs] if isinstance(exprs, list) else visit(exprs)
    return named, exprs


@functools.cache
def _printer() -> type:
    """lambdify's NumPy printer class, writing a square of a symbol as a product (see
    :func:`_numeric`)."""
    from sympy.printing.numpy import NumPyPrinter

    class SquaresAsProducts(NumPyPrinter):
        def _print_Pow(self, expr: Expr, rational: bool = False) -> str:
            if expr.exp == 2 and expr.base.is_Symbol:
                base = self._print(expr.base)
                return f"({base}*{base})"
            return str(super()._print_Pow(expr, rational=rational))

    return SquaresAsProducts


def _real(value: Any, x: np.ndarray) -> Any:
    """A real formula at real points is real: nan where SymPy's algebra made it complex."""
    if x.dtype.kind != "c" and np.iscomplexobj(value):
        value = np.where(np.imag(value) == 0, np.real(value), np.nan)
    return value


def _scalar_or_grid(value: Any, x: np.ndarray) -> Any:
    """A float (complex for complex x) at one point; an array of shape x.shape[1:] on a grid."""
    value = _real(value, x)
    if x.ndim == 1:
        return complex(value) if x.dtype.kind == "c" else float(value)
    out = np.empty(x.shape[1:], dtype=x.dtype)
    out[...] = value  # a constant broadcasts to the grid
    return out


def _stack(parts: list[Any], x: np.ndarray) -> Array:
    """Components (scalars where constant) stacked along a first axis, broadcast to x."""
    out = np.empty((len(parts), *x.shape[1:]), dtype=x.dtype)
    for i, part in enumerate(parts):
        out[i] = _real(part, x)
    return out
