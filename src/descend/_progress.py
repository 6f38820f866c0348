"""Progress bars drawn by tqdm: the loop's (``minimize(progress=True)``) and the report's.

tqdm gives the rate and the time left, redraws in place on a terminal and shows a widget in
a notebook (``tqdm.auto``). It is imported when a bar is made, never by ``import descend``;
it comes with the ``cli`` and ``plot`` extras. Without it, asking for progress raises an
``ImportError`` that says how to install it (before the first update): a run that asked for
a bar and silently drew none would look stuck.

Every bar has one format, ``[####      ] 3/10 [00:12<00:28, 4.10s/it], note``. Where
nothing redraws a line in place (a log file, a pipe: not a terminal, not a notebook),
:class:`Bar` with ``lines=True`` writes one whole line per :meth:`Bar.show` instead, so a
log of a long job stays readable.

>>> import io
>>> log = io.StringIO()
>>> bar = Bar(4, unit="section", stream=log, lines=True)
>>> bar.show(0, "first")
>>> log.getvalue().split(" [")[0]
'[                    ] 0/4'
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

WIDTH = 20  # characters in the bar itself
FORMAT = "[{bar:%s}] {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]{postfix}".replace(
    "%s", str(WIDTH)
)
CHARS = " #"  # empty, full: plain ASCII, so a log file shows the same bar
INSTALL = (
    "progress bars are drawn by tqdm, which is not installed: pip install tqdm "
    "(it comes with pip install 'descend[cli]' or 'descend[plot]'), or pass progress=False"
)


def _tqdm() -> Any:
    """The tqdm module, or an ImportError that says how to install it."""
    try:
        import tqdm
        import tqdm.auto
        import tqdm.autonotebook
    except ImportError as error:
        raise ImportError(INSTALL) from error
    return tqdm


def _in_notebook(tqdm: Any) -> bool:
    """Whether tqdm would draw a notebook widget (a Jupyter kernel with ipywidgets); the
    bar is then ``tqdm.auto``'s."""
    return tqdm.autonotebook.tqdm is not tqdm.std.tqdm


class Bar:
    """A bar of ``total`` steps on ``stream`` (stderr): :meth:`show` sets how many are done.

    Parameters
    ----------
    total : int
        The number of steps.
    unit : str
        What a step is, for the rate (``4.10s/section``).
    stream : file, optional
        Where to draw; default stderr (in a notebook, with no stream given: a widget).
    lines : bool, optional
        One line per :meth:`show` instead of redrawing one line in place; default: when
        the stream is neither a terminal nor a notebook's.
    """

    def __init__(
        self, total: int, *, unit: str = "it", stream: TextIO | None = None,
        lines: bool | None = None,
    ) -> None:  # fmt: skip
        tqdm = _tqdm()
        self.stream = sys.stderr if stream is None else stream
        notebook = stream is None and _in_notebook(tqdm)
        self.lines = not (notebook or self.stream.isatty()) if lines is None else lines
        make = tqdm.auto.tqdm if notebook else tqdm.std.tqdm
        self._bar = make(
            total=total, unit=unit, file=self.stream, bar_format=FORMAT, ascii=CHARS,
            mininterval=0, miniters=1, dynamic_ncols=False, disable=self.lines,
        )  # fmt: skip
        self._format = tqdm.std.tqdm.format_meter
        self._total, self._unit = total, unit
        self._started = time.perf_counter()

    def show(self, done: int, note: str = "") -> None:
        """``done`` of ``total`` steps are done; ``note`` follows the bar."""
        if self.lines:
            elapsed = time.perf_counter() - self._started
            line = self._format(done, self._total, elapsed, ascii=CHARS, unit=self._unit,
                                bar_format=FORMAT, postfix=note or None)  # fmt: skip
            self.stream.write(line + "\n")
            self.stream.flush()
            return
        self._bar.set_postfix_str(note, refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """End the bar (a redrawn bar keeps its last state on its line)."""
        self._bar.close()


class Progress:
    """The loop's bar: ``update(nit, f, grad_norm, elapsed)`` redraws it at most ten times
    a second, with f and the gradient's norm after the bar; ``close()`` ends the line."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self._bar = Bar(total, stream=stream, lines=False)
        self._next_draw = 0.0
        self._last: tuple[int, float, float] | None = None

    def update(self, nit: int, f: float, grad_norm: float, elapsed: float) -> None:
        self._last = (nit, f, grad_norm)
        if elapsed < self._next_draw:  # the loop's clock: no formatting between draws
            return
        self._next_draw = elapsed + 0.1
        self._draw(nit, f, grad_norm)

    def _draw(self, nit: int, f: float, grad_norm: float) -> None:
        self._bar.show(nit, f"f={f:.6g} |g|={grad_norm:.3g}")

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._last is not None:
            self._draw(*self._last)
        self._bar.close()
