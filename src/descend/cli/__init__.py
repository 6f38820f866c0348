"""The ``descend`` command: a thin adapter over the public API.

Exit codes: 0 when a run finished (converged, or used its budget), 1 when it
diverged, 2 for bad input or usage (one line on stderr, no traceback; a closed
standard output is one too), 130 when interrupted (Ctrl-C: what finished is printed
first), 141 when the reader of a pipe went away (``descend compare | head -1``), quietly,
as for tools that SIGPIPE ends (128 + 13).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Any

try:
    import click
except ImportError as error:  # pragma: no cover - click comes with the cli extra
    raise SystemExit("the descend command needs click: pip install 'descend[cli]'") from error

import numpy as np

from descend.analysis._runs import Interrupted
from descend.cli import output
from descend.core.minimize import minimize
from descend.core.optimizers import OPTIMIZERS
from descend.core.result import Result, Status
from descend.problems.functions import ZOO
from descend.viz import demo as demo_module

EXIT_CODES = {Status.DIVERGED: 1, Status.INTERRUPTED: 130}
BROKEN_PIPE = 141
FIGURE_DPI = 100
PLOT_HELP = "Write a figure (PNG, SVG or PDF): the path on the contours."
ANIMATE_HELP = "Write an animation of the run over the contours (GIF, or MP4 with ffmpeg)."


def _floats(text: str) -> list[float]:
    try:
        return [float(item) for item in text.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"expected numbers separated by commas, got {text!r}", param_hint="--x0"
        ) from None


def _output(ctx: Any, param: Any, path: str | None) -> str | None:
    """An output file's folder, checked before the run: a missing one would lose it."""
    if path is None:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise click.BadParameter(
            f"the folder {folder!r} does not exist; create it, or write to another path",
            param_hint=f"'{param.opts[0]}'",
        )
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"the folder {folder!r} is not writable", param_hint=param.opts[0])
    return path


def _output_option(flag: str, name: str, help: str) -> Any:
    """An option naming a file to write, its folder checked before any run."""
    return click.option(flag, name, type=click.Path(dir_okay=False), callback=_output, help=help)


def _options(pairs: tuple[str, ...]) -> dict[str, float]:
    """``key=value`` pairs as hyperparameters."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--option")
        try:
            options[key.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"{key}: expected a number, got {value!r}") from None
    return options


class Problem:
    """A zoo function or a parsed formula, its start point and its variables' names."""

    def __init__(self, formula: str, x0: str | None, variables: str | None) -> None:
        if formula in ZOO:
            self.fun: Any = ZOO[formula]
            self.x0 = self.fun.x0 if x0 is None else _floats(x0)
            self.names = [f"x{i}" for i in range(len(self.x0))]
            return
        from descend.gradients.formulas import parse

        names = [v.strip() for v in variables.split(",")] if variables else None
        self.fun = parse(formula, names)
        self.names = list(self.fun.variables)
        if x0 is None:
            raise click.BadParameter("a formula needs a start point, e.g. --x0 3,4")
        self.x0 = _floats(x0)

    def run(self, method: str | None, settings: dict[str, Any]) -> Result:
        return minimize(self.fun, self.x0, method, **settings)


def _settings(
    lr: float | None,
    max_iter: int | None,
    gtol: float | None,
    ftol: float | None,
    xtol: float | None,
    maximize: bool,
    options: tuple[str, ...],
    progress: bool,
    explain: bool = False,
    on_divergence: str = "stop",
    keep: str = "last",
) -> dict[str, Any]:
    settings: dict[str, Any] = dict(
        lr=lr, max_iter=max_iter, ftol=ftol, xtol=xtol, maximize=maximize, progress=progress,
        explain=explain, on_divergence=on_divergence, keep=keep,
    )  # fmt: skip
    if gtol is not None:
        settings["gtol"] = gtol
    settings.update(_options(options))
    return settings


_run_options = [
    click.option("--lr", type=float, help="Learning rate (default: the method's own)."),
    click.option("--max-iter", type=int, help="Most updates (default 1000)."),
    click.option("--gtol", type=float, help="Stop when the gradient norm is <= gtol (1e-8)."),
    click.option("--ftol", type=float, help="Stop when |f change| < ftol."),
    click.option("--xtol", type=float, help="Stop when the step length is <= xtol."),
    click.option("--maximize", is_flag=True, help="Ascend: maximise the formula."),
    click.option(
        "--explain",
        is_flag=True,
        help="Record the parts of every update (velocity, moments, effective lr, ...): the "
        "last update's are printed, every update's go to --history and --json --with-history.",
    ),
    click.option(
        "--on-divergence",
        type=click.Choice(["stop", "rollback"]),
        default="stop",
        help="rollback: when a run blows up, go back to its best point with half the lr.",
    ),
    click.option(
        "--keep",
        type=click.Choice(["last", "best"]),
        default="last",
        help="Report the last point (default) or the best one seen.",
    ),
    click.option(
        "-o", "--option", "options", multiple=True, help="A hyperparameter: -o momentum=0.9."
    ),
]


def _together(decorators: list[Any]) -> Any:
    """One decorator that applies a list of click options in their order."""

    def apply(command: Any) -> Any:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


class _ReaderGone(Exception):
    """Writing met a broken pipe (a plain Exception, which click lets through to cli)."""


class _Commands(click.Group):
    """The command group, passing a broken pipe on rather than as click's exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _ReaderGone from None


@click.group(cls=_Commands)
@click.version_option(package_name="descend")
def main() -> None:
    """Gradient-based optimisation you can read.

    FORMULA is an expression such as "(x-1)**2 + 3*y**2" or the name of a test
    function (see `descend functions`).
    """


_problem_options = [
    click.argument("formula"),
    click.option("--x0", help="Start point, comma-separated: --x0 3,4."),
    click.option("--variables", help="Order of the variables in x0, e.g. y,x."),
]


@main.command("minimize")
@_together(_problem_options)
@click.option(
    "--method",
    type=click.Choice(list(OPTIMIZERS)),
    help="The update rule (default: lbfgs, which needs no --lr; gd when --lr is given); "
    "'descend methods' lists them with when to use each.",
)
@_together(_run_options)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--with-history", is_flag=True, help="With --json: include the history.")
@_output_option("--history", "history_path", "Write CSV.")
@_output_option("--plot", "plot_path", PLOT_HELP)
@_output_option("--animate", "animation_path", ANIMATE_HELP)
def minimize_command(
    formula: str,
    x0: str | None,
    variables: str | None,
    method: str | None,
    as_json: bool,
    with_history: bool,
    history_path: str | None,
    plot_path: str | None,
    animation_path: str | None,
    **run: Any,
) -> None:
    """Minimise FORMULA from --x0 and print what happened."""
    problem = Problem(formula, x0, variables)
    progress = not as_json and sys.stdout.isatty() and sys.stderr.isatty()
    res = problem.run(method, _settings(**run, progress=progress))
    if history_path:
        res.history.to_csv(history_path)
    click.echo(output.as_json(res, with_history) if as_json else output.summary(res, problem.names))
    if plot_path:
        _save_figure(plot_path, lambda plot, axes: _draw_run(plot, axes, problem, [res]))
    if animation_path:
        from descend.viz import plot

        click.echo(f"animation: {plot.animate(problem.fun, res, path=animation_path)}", err=True)
    sys.exit(EXIT_CODES.get(res.status, 0))


@main.command()
@_together(_problem_options)
@click.option("--methods", default="gd,momentum,nesterov,adam,armijo,bb", show_default=True)
@_together(_run_options)
@_output_option(
    "--plot", "plot_path", "Write a figure: the paths on the contours and the losses, side by side."
)
def compare(
    formula: str,
    x0: str | None,
    variables: str | None,
    methods: str,
    plot_path: str | None,
    **run: Any,
) -> None:
    """Run several methods on FORMULA and print their results side by side."""
    problem = Problem(formula, x0, variables)
    settings = _settings(**run, progress=False)
    names = [m.strip() for m in methods.split(",")]
    unknown = [m for m in names if m not in OPTIMIZERS]
    if unknown:
        raise click.BadParameter(
            f"unknown {', '.join(map(repr, unknown))}; choose from {', '.join(OPTIMIZERS)}",
            param_hint="--methods",
        )
    click.echo(f"{'method':<9} {'status':<10} {'f':>12} {'iters':>6} {'time':>9}  x")
    results = []
    for name in names:
        res = problem.run(name, settings)
        results.append(res)
        x = np.array2string(np.atleast_1d(res.x), precision=6, separator=", ")
        click.echo(
            f"{name:<9} {res.status!s:<10} {res.fun:>12.6g} {res.nit:>6} "
            f"{res.elapsed * 1000:>7.1f}ms  {x}"
        )
        if res.status is Status.INTERRUPTED:  # one Ctrl-C stops the whole comparison
            _interrupted(f"{len(results)} of {len(names)} methods")
    if plot_path:
        _save_figure(plot_path, lambda plot, axes: _draw_run(plot, axes, problem, results), 2)


def _grid(option: str) -> Any:
    """A click callback: comma-separated numbers as a list."""

    def parse(ctx: Any, param: Any, text: str | None) -> list[float] | None:
        if text is None:
            return None
        try:
            return [float(item) for item in text.split(",")]
        except ValueError:
            raise click.BadParameter(
                f"expected numbers separated by commas, got {text!r}", param_hint=option
            ) from None

    return parse


@main.command("sweep")
@_together(_problem_options)
@click.option(
    "--method", default="momentum", type=click.Choice(list(OPTIMIZERS)), show_default=True
)
@click.option("--lr", callback=_grid("--lr"), help="Learning rates: --lr 0.05,0.2,0.5.")
@click.option("--momentum", callback=_grid("--momentum"), help="Momenta: --momentum 0,0.5,0.9.")
@click.option("--max-iter", type=int, help="Most updates per run (default 1000).")
@click.option("--gtol", type=float, help="Stop when the gradient norm is <= gtol (1e-8).")
@click.option("--ftol", type=float, help="Stop when |f change| < ftol.")
@click.option("--xtol", type=float, help="Stop when the step length is <= xtol.")
@click.option("--n-jobs", type=int, help="Processes to run the grid in (-1: one per core).")
@_output_option("--plot", "plot_path", "Write the grid figure.")
def sweep_command(
    formula: str,
    x0: str | None,
    variables: str | None,
    method: str,
    lr: list[float] | None,
    momentum: list[float] | None,
    n_jobs: int | None,
    plot_path: str | None,
    **stopping: Any,
) -> None:
    """Run METHOD on FORMULA for every --lr and --momentum; print the table and the best."""
    from descend.analysis.sweep import sweep

    problem = Problem(formula, x0, variables)
    grids = {name: values for name, values in (("lr", lr), ("momentum", momentum)) if values}
    fixed = {name: value for name, value in stopping.items() if value is not None}
    try:
        grid = sweep(problem.fun, problem.x0, method, n_jobs=n_jobs, **grids, **fixed)
    except Interrupted as stop:
        if stop.partial is not None and stop.results:
            click.echo(repr(stop.partial))
        _interrupted(f"{len(stop.results)} of {stop.total} runs")
    click.echo(repr(grid))
    if plot_path:
        from descend.viz import plot

        figure = plot.sweep(grid)
        figure.savefig(plot_path, dpi=FIGURE_DPI)
        click.echo(f"figure: {plot_path}", err=True)


def _interrupted(done: str) -> None:
    """End a command of many runs at Ctrl-C, after what finished was printed."""
    click.echo(f"descend: interrupted after {done} (the last one cut short)", err=True)
    sys.exit(EXIT_CODES[Status.INTERRUPTED])


def _draw_run(plot: Any, axes: Any, problem: Problem, results: list[Result]) -> None:
    """The path on the contours (the curve in 1-D), and the losses when there is a second axes."""
    if np.size(problem.x0) == 1:
        plot.curve(problem.fun, *results, ax=axes[0])
    else:
        plot.path(problem.fun, *results, ax=axes[0])
    if len(axes) > 1:
        plot.loss(*results, ax=axes[1])


def _save_figure(path: str, draw: Any, panels: int = 1) -> None:
    """Draw into a new figure of ``panels`` axes side by side and write it to ``path``."""
    from matplotlib.figure import Figure

    from descend.viz import plot

    figure = Figure(figsize=(6 * panels, 5), layout="constrained")
    draw(plot, figure.subplots(1, panels, squeeze=False)[0])
    figure.savefig(path, dpi=FIGURE_DPI)
    click.echo(f"figure: {path}", err=True)


@main.command()
def functions() -> None:
    """List the test functions with their minima and customary starts."""
    for name, f in ZOO.items():
        minima = "; ".join(np.array2string(m, precision=6, separator=", ") for m in f.minima)
        click.echo(f"{name:<11} f* = {f.fmin:g} at {minima}   start {f.x0.tolist()}")


@main.command()
def methods() -> None:
    """List the methods, each with when to use it (the choices of --method)."""
    for name, cls in OPTIMIZERS.items():
        click.echo(f"{name:<19} {cls.when}")


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Write the HTML report (figures and tables of every part) to this folder.",
)
def demo(out: str | None) -> None:
    """Print every method on the classic problems and the digits classifier as tables;
    with --out DIR, write the whole report to DIR/index.html instead."""
    if out is None:
        for line in demo_module.lines():
            click.echo(line)
        return
    from descend.viz import report

    index = report.build(out)
    click.echo(f"report: {index.resolve()}")
    click.echo("playground: run `descend playground --open` to steer these methods in a browser")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: a free one).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
def playground(host: str, port: int, open_browser: bool) -> None:
    """Serve the playground: descend's own methods on your formula, live in the browser."""
    from descend.playground.server import serve

    serve(host, port, open_browser)


def cli(argv: list[str] | None = None) -> int:
    """Run the command; bad input ends with one line on stderr and exit code 2."""
    if sys.stdout is None or sys.stdout.closed:  # started with >&-
        if sys.stderr is not None and not sys.stderr.closed:
            click.echo(
                "descend: error: standard output is closed; send it to a file or to "
                "/dev/null (> out.txt)",
                err=True,
            )
        return 2
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the result's status and message say what happened
            main.main(args=argv, standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except SystemExit as done:
        return int(done.code or 0)
    except click.UsageError as error:
        click.echo(f"descend: error: {error.format_message()}", err=True)
        return 2
    except click.Abort:
        return 130
    except (BrokenPipeError, _ReaderGone):
        return _reader_gone()
    except (ValueError, TypeError, ImportError, OSError) as error:
        first_line = str(error).splitlines()[0].rstrip(":")  # a formula's caret stays in the API
        click.echo(f"descend: error: {first_line}", err=True)
        return 2
    except Exception as error:  # no traceback for anyone at a shell
        click.echo(f"descend: error: {type(error).__name__}: {error}", err=True)
        return 2
    return 0


def _reader_gone() -> int:
    """The pipe's reader left: say nothing more, and let no flush at exit complain."""
    with contextlib.suppress(OSError, ValueError):  # no real descriptor: nothing to redirect
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return BROKEN_PIPE


def entry() -> None:
    """The console script."""
    code = cli()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()  # what is still buffered may meet the broken pipe only now
    except BrokenPipeError:
        code = _reader_gone()
    sys.exit(code)
