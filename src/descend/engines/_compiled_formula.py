"""A parsed formula's ``value_and_grad`` for the compiled engine: the NumPy code that
:class:`descend.Formula` evaluates, read back as a syntax tree and rewritten for Numba.

Only where Numba would compute otherwise: a power other than a square (which the formula
already writes as a product) calls the C library's ``pow``, as NumPy's scalars do;
``min`` and ``max`` (NumPy's ``reduce``) and their slopes become the NumPy-exact scalar
kernels of :mod:`descend.engines._compiled_kernels`; the variables come from one array
``_x`` and the gradient goes into ``out``. Anything else the code calls that is not
NumPy's own is refused. Nothing here imports Numba.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

from ._compiled_source import run_params_source

__all__ = ["formula_source"]


def formula_source(formula: Any) -> str:
    """``value_and_grad`` of a parsed formula, from the NumPy code it evaluates itself.

    Raises
    ------
    ValueError
        When that code calls something other than NumPy's functions and constants.
    """
    value = _function(formula._value, "value", formula.text)
    gradient = _function(formula._gradient, "gradient", formula.text)
    imports = sorted(value.names | gradient.names)
    header = f"from numpy import {', '.join(imports)}\n" if imports else ""
    header += f"SIZE = {len(formula.variables)}\n"
    return (
        f"{header}\n\n@njit(**_INLINE)\n{value.source}\n\n@njit(**_INLINE)\n{gradient.source}\n\n"
        f"@njit(**_INLINE)\ndef value_and_grad(x, g, params):\n"
        "    gradient(x, g)\n"
        "    return value(x)\n\n\n"
        "@njit(**_INLINE)\ndef value_at(x, params, scratch):\n"
        "    return value(x)\n" + run_params_source("formula")
    )


class _Function:
    """One lambdified function rewritten for Numba: its source and the NumPy names it uses."""

    def __init__(self, source: str, names: set[str]) -> None:
        self.source, self.names = source, names


def _function(function: Any, name: str, text: str) -> _Function:
    """``function`` (SymPy's lambdify output) as Numba source named ``name``, of the array
    ``_x`` rather than one argument per variable (Python passes 30 or more arguments as a
    tuple, which Numba cannot inline); a gradient's returned list goes into the array
    ``out`` instead, and powers call ``pow``."""
    tree = ast.parse(function.source)  # kept by Formula, out of linecache
    definition = tree.body[0]
    assert isinstance(definition, ast.FunctionDef)
    definition.name = name
    definition.decorator_list = []
    body = definition.body
    last = body[-1]
    variables = [a.arg for a in definition.args.args]
    definition.args.args = [ast.arg(arg="_x")]
    body[:0] = [
        ast.Assign(
            targets=[ast.Name(v, ast.Store())],
            value=ast.Subscript(ast.Name("_x", ast.Load()), ast.Constant(i), ast.Load()),
        )
        for i, v in enumerate(variables)
    ]
    if name == "gradient":
        assert isinstance(last, ast.Return) and isinstance(last.value, ast.List)
        definition.args.args.append(ast.arg(arg="out"))
        body[-1:] = [
            ast.Assign(
                targets=[ast.Subscript(ast.Name("out", ast.Load()), ast.Constant(i), ast.Store())],
                value=element,
            )
            for i, element in enumerate(last.value.elts)
        ]
    local = {a.arg for a in definition.args.args} | {
        t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
        for t in node.targets if isinstance(t, ast.Name)
    }  # fmt: skip
    tree = _Reductions().visit(tree)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in local | _Reductions.KERNELS:
            found = function.__globals__.get(node.id)
            if found is None or getattr(np, node.id, None) is not found:
                raise ValueError(
                    f"formula {text!r}: its NumPy code uses {node.id!r}, which the compiled "
                    "engine cannot translate"
                )
            names.add(node.id)
    tree = _Powers().visit(tree)  # after the names: power is the kernels' own
    return _Function(ast.unparse(ast.fix_missing_locations(tree)), names)


class _Reductions(ast.NodeTransformer):
    """A formula's ``reduce(maximum, [a, b, c])`` -> ``maximum(maximum(a, b), c)`` (the
    same left fold, in the kernels' NumPy-exact scalar maximum) and ``_step`` -> ``step``."""

    KERNELS = frozenset({"maximum", "minimum", "step"})

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func, args = node.func, node.args
        if isinstance(func, ast.Name) and func.id == "_step":
            return ast.Call(ast.Name("step", ast.Load()), args, [])
        if (
            isinstance(func, ast.Name) and func.id == "reduce" and len(args) == 2
            and isinstance(args[0], ast.Name) and args[0].id in ("maximum", "minimum")
            and isinstance(args[1], ast.List) and args[1].elts
        ):  # fmt: skip
            folded, *rest = args[1].elts
            for element in rest:
                folded = ast.Call(ast.Name(args[0].id, ast.Load()), [folded, element], [])
            return folded
        return node


class _Powers(ast.NodeTransformer):
    """``a ** b`` -> ``power(a, b)``."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            return ast.Call(ast.Name("power", ast.Load()), [node.left, node.right], [])
        return node
