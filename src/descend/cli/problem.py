"""What ``minimize``, ``compare`` and ``sweep`` run: a formula or a test function, its
start point and its variables' names, checked in the shell's words before any run."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from descend.cli.options import counted, floats
from descend.core.minimize import minimize
from descend.core.result import Result
from descend.problems.functions import ZOO


def _values(n: int) -> str:
    return f"{n} value" + ("" if n == 1 else "s")


class Problem:
    """A zoo function or a parsed formula, its start point and its variables' names."""

    def __init__(self, formula: str, x0: str | None, variables: str | None) -> None:
        if formula in ZOO:
            self.fun: Any = ZOO[formula]
            self.x0 = self.fun.x0 if x0 is None else floats(x0, "--x0")
            self.names = [f"x{i}" for i in range(len(self.x0))]
            try:
                self.fun(np.asarray(self.x0))
            except ValueError:  # a function of a fixed number of variables
                raise click.UsageError(
                    f"--x0 has {_values(len(self.x0))} but {formula} takes "
                    f"{_values(len(self.fun.x0))} (--x0 {','.join(map(str, self.fun.x0))} is "
                    "its customary start)"
                ) from None
            return
        from descend.gradients.formulas import parse

        names = [v.strip() for v in variables.split(",")] if variables else None
        self.fun = parse(formula, names)
        self.names = list(self.fun.variables)
        if x0 is None:
            raise click.UsageError(
                f"a formula needs a start point: the formula has {counted(self.names)}, "
                f"e.g. --x0 {','.join(['1'] * len(self.names))}"
            )
        self.x0 = floats(x0, "--x0")
        order = ""
        if variables is None and self.names != sorted(self.names):
            order = (
                f"; --x0 is read in the order the variables first appear ({', '.join(self.names)}"
                f"); for another order, say it: --variables {','.join(sorted(self.names))}"
            )
        if len(self.x0) != len(self.names):
            raise click.UsageError(
                f"--x0 has {_values(len(self.x0))} but the formula has {counted(self.names)}{order}"
            )
        if order:  # a start read in an order the user may not expect
            given = ", ".join(f"{n}={v:g}" for n, v in zip(self.names, self.x0, strict=True))
            click.echo(f"descend: note: --x0 {x0} gives {given}{order}", err=True)

    def run(self, method: str | None, settings: dict[str, Any]) -> Result:
        return minimize(self.fun, self.x0, method, **settings)


class FormulaCommand(click.Command):
    """A command whose FORMULA may come after ``--`` with options after it, as in
    ``descend minimize -- "-x**2 + x**4" --x0 1``, and whose formula starting with ``-``
    without ``--`` is met with the hint to use it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args[:-1]:
            at = args.index("--")
            args = [*args[:at], *args[at + 2 :], "--", args[at + 1]]
        given = list(args)  # click's parser consumes the list it reads
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as error:
            name = error.option_name
            formula = next((a for a in given if a.startswith(name) and a[1:2] != "-"), None)
            if formula is None:
                raise
            raise click.UsageError(
                f"no option {name!r}; if {formula!r} is the formula, put it after '--', "
                f"since it starts with '-': descend {ctx.info_name} -- '{formula}' --x0 ...",
                ctx,
            ) from None
