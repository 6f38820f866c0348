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

from descend.cli import fit, runs
from descend.cli.messages import shell
from descend.core.optimizers import OPTIMIZERS
from descend.problems.functions import ZOO
from descend.viz import demo as demo_module

BROKEN_PIPE = 141


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
    function (see `descend functions`). A formula that starts with "-" goes after
    "--", options before or after it: descend minimize -- "-x**2 + x**4" --x0 1.
    """


for _command in (runs.minimize_command, runs.compare, runs.sweep_command, fit.fit_command,
                 fit.predict_command):  # fmt: skip
    main.add_command(_command)


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
        click.echo(f"descend: error: {shell(error.format_message())}", err=True)
        return 2
    except click.Abort:
        return 130
    except (BrokenPipeError, _ReaderGone):
        return _reader_gone()
    except (ValueError, TypeError, ImportError, OSError) as error:
        first_line = str(error).splitlines()[0].rstrip(":")  # a formula's caret stays in the API
        click.echo(f"descend: error: {shell(first_line)}", err=True)
        return 2
    except Exception as error:  # no traceback for anyone at a shell
        click.echo(f"descend: error: {type(error).__name__}: {shell(str(error))}", err=True)
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
