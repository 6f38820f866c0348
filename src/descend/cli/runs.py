"""``descend minimize``, ``compare`` and ``sweep``: runs of a formula from the shell."""

from __future__ import annotations

import sys
from typing import Any

import click
import numpy as np

from descend._validate import closest
from descend.analysis._runs import Interrupted
from descend.analysis.lr_finder import find_lr
from descend.analysis.sweep import best_key
from descend.cli import options, output
from descend.cli.messages import Choice, shell
from descend.cli.options import animation_option, counted, output_option, together
from descend.cli.problem import FormulaCommand, Problem
from descend.core.engines import engine_names
from descend.core.optimizers import OPTIMIZERS
from descend.core.result import Result, Status

EXIT_CODES = {Status.DIVERGED: 1, Status.INTERRUPTED: 130}
FIGURE_DPI = 100
PLOT_HELP = "Write a figure (PNG, SVG or PDF): the path on the contours."
ANIMATE_HELP = "Write an animation of the run over the contours (GIF, or MP4 with ffmpeg)."
SCHEDULES = ", ".join(options._SCHEDULES)

_problem_options = [
    click.argument("formula"),
    click.option("--x0", help="Start point, comma-separated: --x0 3,4."),
    click.option("--variables", help="Order of the variables in x0, e.g. y,x."),
]
_stopping_options = [
    click.option("--max-iter", type=int, help="Most updates (default 1000)."),
    click.option("--gtol", type=float, help="Stop when the gradient norm is <= gtol (1e-8)."),
    click.option("--ftol", type=float, help="Stop when |f change| < ftol."),
    click.option("--xtol", type=float, help="Stop when the step length is <= xtol."),
]
_engine_option = click.option(
    "--engine",
    type=Choice(list(engine_names())),
    default="python",
    show_default=True,
    help="How the loop runs: numba compiles it whole (a run it cannot compile is refused, "
    "saying why); auto: numba where it can and it pays, else python.",
)
_hyperparameter_option = click.option(
    "-o",
    "--option",
    "hyperparameters",
    metavar="NAME=VALUE",
    multiple=True,
    help="A setting of the method, of its own type: -o momentum=0.9, -o memory=5, "
    "-o decouple=false.",
)
_run_options = [
    click.option(
        "--lr",
        metavar="NUMBER|auto",
        callback=options.learning_rate,
        help="Learning rate (default: the method's own), or auto: the largest "
        "stable one the learning-rate range test finds, halved.",
    ),
    click.option(
        "--schedule",
        metavar="NAME:ARGS",
        callback=options.schedule,
        help=f"A learning-rate schedule NAME:ARGS, e.g. cosine:0.1,steps=1000 ({SCHEDULES}).",
    ),
    click.option(
        "--bounds",
        metavar="LO,HI[;LO,HI...]",
        help="Keep x in a box: lo,hi for every variable, or "
        "lo,hi;lo,hi one pair each (inf for no bound).",
    ),
    *_stopping_options,
    click.option("--maximize", is_flag=True, help="Ascend: maximise the formula."),
    click.option(
        "--explain",
        is_flag=True,
        help="Record the parts of every update (velocity, moments, effective lr, ...): the "
        "last update's are printed (each run's in compare), every update's go to --history "
        "(and to minimize's --json --with-history).",
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
    _engine_option,
    _hyperparameter_option,
]


def _settings(problem: Problem, **run: Any) -> dict[str, Any]:
    """minimize's keywords from the options (a learning rate of auto is found later)."""
    lr, schedule, box = run.pop("lr"), run.pop("schedule"), run.pop("bounds")
    if lr is not None and schedule is not None:
        raise click.UsageError("give --lr or --schedule, not both: the schedule sets the lr")
    settings = {name: value for name, value in run.items() if name != "hyperparameters"}
    if settings["gtol"] is None:
        del settings["gtol"]
    settings["lr"] = schedule if lr is None else lr
    if box is not None:
        settings["project"] = options.bounds(box, problem.names)
    return {**settings, **options.hyperparameters(run["hyperparameters"])}


def _run(problem: Problem, method: str | None, settings: dict[str, Any], said: bool) -> Result:
    """One run; with --lr auto, the learning-rate range test first (its choice printed)."""
    if settings["lr"] == "auto":
        chosen = method or "gd"
        passed = {name: value for name, value in settings.items() if name not in _OWN}
        found = find_lr(problem.fun, problem.x0, chosen, **passed)
        if found.lr is None:
            raise click.UsageError(
                f"--lr auto found no stable learning rate: {shell(found.message)}"
            )
        click.echo(f"lr auto:    {chosen}: {shell(found.message)}", err=not said)
        settings = {**settings, "lr": found.lr}
        method = chosen
    return problem.run(method, settings)


# minimize's keywords that find_lr does not take (it sets the lr and the budget itself).
_OWN = ("lr", "max_iter", "gtol", "ftol", "xtol", "progress", "explain", "on_divergence", "keep",
        "engine")  # fmt: skip


@click.command("minimize", cls=FormulaCommand)
@together(_problem_options)
@click.option(
    "--method",
    type=Choice(list(OPTIMIZERS)),
    help="The update rule (default: lbfgs, which needs no --lr; gd when --lr is given); "
    "'descend methods' lists them with when to use each.",
)
@together(_run_options)
@click.option(
    "--progress",
    "force_progress",
    is_flag=True,
    help="Draw a progress bar on stderr (default: when both are a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--with-history", is_flag=True, help="With --json: include the history.")
@output_option("--history", "history_path", "Write CSV.")
@output_option("--plot", "plot_path", PLOT_HELP)
@animation_option(ANIMATE_HELP)
def minimize_command(
    formula: str,
    x0: str | None,
    variables: str | None,
    method: str | None,
    force_progress: bool,
    as_json: bool,
    with_history: bool,
    history_path: str | None,
    plot_path: str | None,
    animation_path: str | None,
    **run: Any,
) -> None:
    """Minimise FORMULA from --x0 and print what happened."""
    problem = Problem(formula, x0, variables)
    _check_animation(problem, animation_path)
    drawn = run["engine"] == "python"  # the compiled loop draws no progress bar
    progress = force_progress or (
        drawn and not as_json and sys.stdout.isatty() and sys.stderr.isatty()
    )
    res = _run(problem, method, _settings(problem, **run, progress=progress), not as_json)
    if history_path:
        res.history.to_csv(history_path)
    click.echo(output.as_json(res, with_history) if as_json else output.summary(res, problem.names))
    if plot_path:
        _save_figure(plot_path, lambda plot, axes: _draw_run(plot, axes, problem, [res]))
    if animation_path:
        _animate(problem, [res], animation_path)
    sys.exit(EXIT_CODES.get(res.status, 0))


@click.command(cls=FormulaCommand)
@together(_problem_options)
@click.option("--methods", default="gd,momentum,nesterov,adam,armijo,bb", show_default=True)
@together(_run_options)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: every run, the best.")
@output_option(
    "--history", "history_path", "Write every run's history to one CSV (a method column first)."
)
@output_option(
    "--plot", "plot_path", "Write a figure: the paths on the contours and the losses, side by side."
)
@animation_option("Write an animation of every run moving over the contours (GIF, or MP4).")
def compare(
    formula: str,
    x0: str | None,
    variables: str | None,
    methods: str,
    as_json: bool,
    history_path: str | None,
    plot_path: str | None,
    animation_path: str | None,
    **run: Any,
) -> None:
    """Run several methods on FORMULA and print their results side by side, then the best:
    the fewest updates among the runs that converged (the lowest f when none did)."""
    problem = Problem(formula, x0, variables)
    _check_animation(problem, animation_path)
    settings = _settings(problem, **run, progress=False)
    names = [m.strip() for m in methods.split(",")]
    unknown = [name for name in names if name not in OPTIMIZERS]
    if unknown:
        raise click.BadParameter(
            f"unknown {', '.join(map(repr, unknown))}; choose from {', '.join(OPTIMIZERS)}"
            + closest(unknown[0], OPTIMIZERS),
            param_hint="--methods",
        )
    if not as_json:
        click.echo(f"{'method':<9} {'status':<10} {'f':>12} {'iters':>6} {'time':>9}  x")
    results: dict[str, Result] = {}
    for name in names:
        res = results[name] = _run(problem, name, settings, False)
        x = np.array2string(np.atleast_1d(res.x), precision=6, separator=", ")
        if not as_json:
            click.echo(
                f"{name:<9} {res.status!s:<10} {res.fun:>12.6g} {res.nit:>6} "
                f"{res.elapsed * 1000:>7.1f}ms  {x}"
            )
        if res.status is Status.INTERRUPTED:  # one Ctrl-C stops the whole comparison
            _interrupted(f"{len(results)} of {len(names)} methods")
    best = best_key(results)
    if history_path:
        _histories(results, history_path)
    if as_json:
        runs = [{**output.record(res, False), "method": name} for name, res in results.items()]
        click.echo(output.strict_json({"best": best, "runs": runs}))
    else:
        click.echo(f"best: {best or 'none (every run diverged)'}")
        for name, res in results.items():  # with --explain
            for line in output.last_parts(res, problem.names, f"{name}'s"):
                click.echo(line)
    if plot_path:
        _save_figure(
            plot_path, lambda plot, axes: _draw_run(plot, axes, problem, list(results.values())), 2
        )
    if animation_path:
        _animate(problem, list(results.values()), animation_path)


def _histories(results: dict[str, Result], path: str) -> None:
    """Every run's history in one CSV, one row per point, the method's name first."""
    import pandas as pd

    frames = [res.history.to_frame().reset_index() for res in results.values()]
    table = pd.concat(
        [frame.assign(method=name) for name, frame in zip(results, frames, strict=True)]
    )
    table[["method", *(c for c in table.columns if c != "method")]].to_csv(path, index=False)


def _grid(option: str) -> Any:
    """A click callback: comma-separated numbers as a list."""

    def parse(ctx: Any, param: Any, text: str | None) -> list[float] | None:
        return None if text is None else options.floats(text, option)

    return parse


@click.command("sweep", cls=FormulaCommand)
@together(_problem_options)
@click.option("--method", default="momentum", type=Choice(list(OPTIMIZERS)), show_default=True)
@click.option("--lr", callback=_grid("--lr"), help="Learning rates: --lr 0.05,0.2,0.5.")
@click.option("--momentum", callback=_grid("--momentum"), help="Momenta: --momentum 0,0.5,0.9.")
@click.option(
    "-g",
    "--grid",
    "grids",
    metavar="NAME=V1,V2,...",
    multiple=True,
    help="A grid of any setting: -g beta1=0.8,0.9 -g memory=3,10.",
)
@together(_stopping_options)
@_engine_option
@_hyperparameter_option
@click.option("--n-jobs", type=int, help="Processes to run the grid in (-1: one per core).")
@output_option("--plot", "plot_path", "Write the grid figure.")
def sweep_command(
    formula: str,
    x0: str | None,
    variables: str | None,
    method: str,
    lr: list[float] | None,
    momentum: list[float] | None,
    grids: tuple[str, ...],
    hyperparameters: tuple[str, ...],
    n_jobs: int | None,
    plot_path: str | None,
    **settings: Any,
) -> None:
    """Run METHOD on FORMULA for every combination of the grids; print the table and the best
    (the fewest updates among the runs that converged, the lowest f when none did)."""
    from descend.analysis.sweep import sweep

    problem = Problem(formula, x0, variables)
    named: dict[str, Any] = {n: v for n, v in (("lr", lr), ("momentum", momentum)) if v}
    named.update(options.grids(grids))
    fixed = {name: value for name, value in settings.items() if value is not None}
    fixed.update(options.hyperparameters(hyperparameters))
    if not named:
        raise click.UsageError(
            "sweep needs a grid: --lr 0.01,0.1, --momentum 0,0.9 or -g NAME=v1,v2"
        )
    try:
        methods = named.pop("method", method)  # -g method=gd,adam: a grid of methods
        grid = sweep(problem.fun, problem.x0, methods, n_jobs=n_jobs, **named, **fixed)
    except Interrupted as stop:
        if stop.partial is not None and stop.results:
            click.echo(_sweep_table(stop.partial))
        _interrupted(f"{len(stop.results)} of {stop.total} runs")
    click.echo(_sweep_table(grid))
    if plot_path:
        from descend.viz import plot

        figure = plot.sweep(grid)
        figure.savefig(plot_path, dpi=FIGURE_DPI)
        click.echo(f"figure: {plot_path}", err=True)


def _sweep_table(grid: Any) -> str:
    """The grid's table under a line that gives the best run as the options that repeat it."""
    best, params = grid.best, grid.best_params
    if params is None:
        said = "none (every run diverged)"
    else:
        spelled = [
            f"--{name} {value:g}" if name == "lr" else
            f"--method {value}" if name == "method" else f"-o {name}={value:g}"
            for name, value in params.items()
        ]  # fmt: skip
        said = f"{' '.join(spelled)} ({best.status}, {best.nit} updates, f = {best.fun:.6g})"
    rows = repr(grid).splitlines()[1:]
    return "\n".join([f"sweep: {len(grid.results)} runs; best: {said}", *rows])


def _interrupted(done: str) -> None:
    """End a command of many runs at Ctrl-C, after what finished was printed."""
    click.echo(f"descend: interrupted after {done} (the last one cut short)", err=True)
    sys.exit(EXIT_CODES[Status.INTERRUPTED])


def _check_animation(problem: Problem, path: str | None) -> None:
    """Refuse ``--animate`` before any run when there is no plane to draw the path on."""
    if path is not None and len(problem.names) < 2:
        raise click.UsageError(
            f"--animate draws paths over the contours of 2 or more variables, and the formula "
            f"has {counted(problem.names)}; --plot draws its curve"
        )


def _animate(problem: Problem, results: list[Result], path: str) -> None:
    """Write the animation of ``results`` over the contours of the problem to ``path``."""
    from descend.viz import plot

    click.echo(f"animation: {plot.animate(problem.fun, *results, path=path)}", err=True)


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
