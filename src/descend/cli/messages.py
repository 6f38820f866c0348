"""The library's messages in the shell's words.

descend's messages are written for its Python API: they suggest ``lr=0.1``,
``method='bb'`` or ``project=dd.projections.box(lower, upper)``. At a shell the same
advice is an option (``--lr 0.1``, ``--method bb``, ``--bounds lo,hi``); :func:`shell`
rewrites one into the other, and drops advice that has no shell form (NumPy guards in
a formula, which formulas cannot write).

>>> shell("take smaller steps: lr=0.05, or method='lbfgs' (needs no lr)")
'take smaller steps: --lr 0.05, or --method lbfgs (needs no lr)'
"""

from __future__ import annotations

import re
from typing import Any

import click

from descend._validate import closest

_NUMBER = r"-?[0-9][0-9.]*(?:e[-+]?[0-9]+)?"
_BOUNDS = "--bounds lo,hi (--bounds 0,inf keeps x >= 0)"

# (pattern, replacement), applied in order: the specific phrases first, then the
# general spellings (a keyword argument becomes its option).
_RULES: list[tuple[str, Any]] = [
    (
        r"project it \(project=dd\.projections\.nonnegative\(\) or dd\.projections\.box\("
        r"lower, upper\)\)",
        f"bound it with {_BOUNDS}",
    ),
    (
        r", guard the formula with an epsilon \(np\.sqrt\(np\.maximum\(x, 0\)\), "
        r"np\.log\(np\.maximum\(x, 1e-12\)\)\)",
        "",
    ),
    (
        r"np\.sqrt\(x\*\*2 \+ 1e-12\) instead of abs\(x\) or np\.sqrt\(x\*\*2\)",
        "sqrt(x**2 + 1e-12) instead of abs(x)",
    ),
    (r"dd\.projections\.\w+\([^()]*\)", _BOUNDS),
    (r"\(use np\.stack\(\[X, Y\]\) for a grid\)", ""),
    (r"a decaying schedule \(dd\.schedules\.(\w+)\)", r"a decaying schedule (--schedule \1:...)"),
    (r"cosine\(\.\.\., steps=(\d+)\)", r"--schedule cosine:LR,steps=\1"),
    (r"dd\.check_grad\([^()]*\)|dd\.check_grad", "a check of the gradient"),
    (r"dd\.diagnose\([^()]*\)", "a diagnosis"),
    (r"\bproject=(?!\w)", "--bounds"),
    (r"\b(method|engine)=['\"](\w+)['\"]", r"--\1 \2"),
    (r"\bon_divergence=['\"](\w+)['\"]", r"--on-divergence \1"),
    (r"\b(explain|progress)=True\b", r"--\1"),
    (r"\bclip_norm=(?!\w)", "-o clip_norm"),
    (r"\bvariables=\[([^\]]*)\]", lambda m: "--variables " + re.sub(r"['\" ]", "", m[1])),
    (r"\bx0=\[([^\]]*)\]", lambda m: "--x0 " + m[1].replace(" ", "")),
    (rf"\blr=({_NUMBER})", r"--lr \1"),
    (rf"\bmomentum=({_NUMBER})", r"-o momentum=\1"),
    (r"\braise max_iter\b", "raise --max-iter"),
    (r"\buse None or 0 to disable\b", "use 0 to disable"),
    (r"\bvariables\[\d+\] must be", "each name in --variables must be"),
    (
        r"\bvariables must be distinct, got ('\w+') twice in \([^)]*\)",
        r"--variables must name each variable once, got \1 twice",
    ),
    (
        r"missing from variables \(([^)]*)\)",
        lambda m: "missing from --variables " + re.sub(r"['\" ]", "", m[1]).rstrip(","),
    ),
    (r"\bmax_iter=(\d+)", r"--max-iter \1"),
    (r"\bbatch_size=(\d+)", r"--batch-size \1"),
    (r"\bnp\.(?=\w+\()", ""),
]
_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in _RULES]


def shell(message: str) -> str:
    """``message`` with the Python API's spellings replaced by the command line's."""
    for pattern, replacement in _COMPILED:
        message = pattern.sub(replacement, message)
    return message


class Choice(click.Choice):
    """click's Choice, whose error suggests the closest name (``did you mean 'adam'?``)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(
                f"{value!r} is not one of {', '.join(map(str, self.choices))}"
                + closest(str(value).lower(), map(str, self.choices)),
                param,
                ctx,
            )
