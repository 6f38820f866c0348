"""Two sections of the report that look inside runs: what an update is made of, and a run
that comes back from a step too large.

"Inside the update" runs momentum and Adam with ``explain=True`` and draws the parts
they record (``res.history.parts``): momentum's velocity, Adam's per-coordinate effective
learning rates. "Recovering from a step too large" runs one method with one learning rate
twice, ``on_divergence="stop"`` and ``"rollback"``, and marks the rollbacks
(``res.events``) on the loss curves. Every number the text quotes is read off these
runs; the settings are the module's constants, so that a test can run them again.

>>> res = explained_runs()[1]
>>> res.method, res.history.parts("effective_lr").shape
('adam', (120, 2))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descend.core.minimize import minimize
from descend.core.result import Event, Result
from descend.problems import functions
from descend.viz import plot

from ._page import Content, Page, paragraph, runs_table, table
from ._scene import _legend

__all__ = ["inside_the_update", "recovering"]

# Inside the update: an ill-conditioned quadratic, curvature 2 along x and 20 along y.
QUADRATIC = "x**2 + 10*y**2"
START = (-4.0, 1.5)
UPDATES = 120
MOMENTUM: dict[str, Any] = {"method": "momentum", "lr": 0.02, "momentum": 0.9}
ADAM: dict[str, Any] = {"method": "adam", "lr": 0.1}

# Recovering: momentum on Rosenbrock at an lr whose first steps overshoot the valley.
TOO_LARGE: dict[str, Any] = {"method": "momentum", "lr": 0.005, "momentum": 0.9, "max_iter": 5000}
MODES = ("stop", "rollback")
COLUMNS = ("run", "status", "final f", "best f", "updates", "rollbacks", "lr at the end")
VELOCITY = "black"  # momentum's velocity arrows, apart from the runs' own colours


def explained_runs() -> tuple[Result, Result]:
    """Momentum and Adam on :data:`QUADRATIC` from :data:`START`, every update's parts
    recorded."""
    momentum, adam = (
        minimize(QUADRATIC, list(START), max_iter=UPDATES, explain=True, **settings)
        for settings in (MOMENTUM, ADAM)
    )
    return momentum, adam


def recovery_runs() -> dict[str, Result]:
    """:data:`TOO_LARGE` on Rosenbrock from its usual start, once for each mode."""
    f = functions.rosenbrock
    return {mode: minimize(f, f.x0, on_divergence=mode, **TOO_LARGE) for mode in MODES}


def _point(x: tuple[float, ...]) -> str:
    """``(−4, 1.5)``, with the page's minus sign."""
    return "(" + ", ".join(f"{v:g}".replace("-", "−") for v in x) + ")"


def _label(settings: dict[str, Any]) -> str:
    """``momentum (lr 0.02, momentum 0.9)``: the method and its settings."""
    rest = ", ".join(f"{k} {v:g}" for k, v in settings.items() if k not in ("method", "max_iter"))
    return f"{settings['method']} ({rest})"


def inside_the_update(page: Page) -> Content:
    """Momentum's velocity and Adam's effective learning rates, as explain=True records them."""
    momentum, adam = explained_runs()
    labels = [_label(MOMENTUM), _label(ADAM)]
    velocity = momentum.history.parts("velocity")
    speed = np.linalg.norm(velocity, axis=1)
    effective = adam.history.parts("effective_lr")
    angle = momentum.history.parts("angle")
    updates = np.arange(1, len(speed) + 1)

    figure_paths, (ax,) = page.panels(1, 7.5, 5.5)
    plot.path(QUADRATIC, momentum, adam, labels=labels, ax=ax)
    points = momentum.history.x[1:] if momentum.history.x is not None else np.empty((0, 2))
    ax.quiver(
        *points.T, *velocity.T,
        color=VELOCITY, angles="xy", scale_units="xy", scale=1, width=0.003, alpha=0.7,
        zorder=5, label="momentum's velocity",
    )  # fmt: skip
    _legend(ax, "below")
    ax.set_title(f"f = {QUADRATIC}: paths, and momentum's velocity at each iterate")

    figure_parts, (left, right) = page.panels(2, 6.0, 4.0)
    for j, (name, style) in enumerate((("x", "-"), ("y", "--"))):
        left.plot(updates, effective[:, j], style, color="C1", label=f"adam, {name}")
    left.axhline(MOMENTUM["lr"], color="C0", lw=0.8, label=f"momentum's lr, {MOMENTUM['lr']:g}")
    left.set(xlabel="update", ylabel="effective lr", yscale="log",
             title="Adam: lr / (√v̂ + ε), per coordinate")  # fmt: skip
    _legend(left, "below")
    peak = int(np.argmax(speed))
    right.plot(updates, speed, color="C0", label="momentum: ‖v‖")
    right.plot(updates[peak], speed[peak], "o", color="C0")
    right.set(xlabel="update", ylabel="‖velocity‖ (the step's length)", yscale="log",
              title="momentum: the velocity's norm")  # fmt: skip
    _legend(right, "below")

    first, last = effective[0], effective[-1]
    uphill = int(np.sum(angle > 90))
    return Content(
        f"Adam gives each coordinate its own step: after {len(effective)} updates the flat x "
        f"gets {last[0] / last[1]:.3g} times the steep y's rate, while momentum's single lr "
        f"carries {uphill} of its {len(angle)} steps uphill.",
        [
            paragraph(
                f"{labels[0]} and {labels[1]} on f = {QUADRATIC} from {_point(START)}, "
                f"{UPDATES} updates each, run with explain=True: "
                "res.history.parts(name) holds what every update was made of. The black "
                "arrows are momentum's velocity after each update, drawn at the point it "
                "reached: the step just taken, of which the next step keeps "
                f"{MOMENTUM['momentum']:g} before the gradient's pull is added."
            ),
            page.figure("inside-paths", figure_paths, "paths with momentum's velocity arrows"),
            page.figure("inside-parts", figure_parts, "Adam's effective lr and momentum's speed"),
            paragraph(
                "Adam divides its lr by the root mean square of each coordinate's gradient, "
                "so the steep coordinate gets the smaller rate: after update 1 its effective "
                f"lr is {first[0]:.3g} along x and {first[1]:.3g} along y, a ratio of "
                f"{first[0] / first[1]:.3g} (|∂f/∂y| / |∂f/∂x| at the start, since v̂ is g² "
                f"after one update), and after update {len(effective)} it is {last[0]:.3g} and "
                f"{last[1]:.3g}, a ratio of {last[0] / last[1]:.3g}; momentum uses one lr, "
                f"{MOMENTUM['lr']:g}, for both. Momentum's velocity peaks at "
                f"‖v‖ = {speed[peak]:.3g} at update {peak + 1} and has shrunk to "
                f"{speed[-1]:.3g} by update {len(speed)}; in {uphill} of its {len(angle)} "
                "updates the step pointed more than 90° away from −∇f, carried uphill by "
                "its inertia."
            ),
            runs_table([momentum, adam], labels),
        ],
    )


def _event(event: Event) -> str:
    return (
        f"after update {event.nit} ({event.cause}) it went back to update {event.to_nit} "
        f"with lr {event.lr_before:g} → {event.lr_after:g}"
    )


def _mark(ax: Any, events: tuple[Event, ...]) -> None:
    """A dashed line at each rollback, labelled with the learning rate after it."""
    for i, event in enumerate(events):
        ax.axvline(event.nit, color="C3", ls="--", lw=1,
                   label="rollback" if i == 0 else None)  # fmt: skip
        ax.annotate(
            f"lr → {event.lr_after:g}", (event.nit, 1), xycoords=("data", "axes fraction"),
            xytext=(3, -12 - 12 * i), textcoords="offset points", color="C3", fontsize=9,
        )  # fmt: skip


def recovering(page: Page) -> Content:
    """The same too-large step, stopped at the divergence and rolled back from it."""
    runs = recovery_runs()
    stop, rollback = runs["stop"], runs["rollback"]
    label = _label(TOO_LARGE)
    figure, (left, right) = page.panels(2, 6.0, 4.5)
    plot.loss(stop, labels=['on_divergence="stop"'], ax=left)
    plot.loss(rollback, labels=['on_divergence="rollback"'], ax=right)
    right.set_xscale("symlog", linthresh=20, linscale=0.8)  # the early rollbacks, apart
    right.set_xlim(0, rollback.nit * 1.05)
    _mark(right, rollback.events)
    _legend(left, "below")
    _legend(right, "below")
    right.set_xlabel("iteration (linear to 20, logarithmic beyond)")
    for ax in (left, right):
        ax.set_ylim(*_shared(stop, rollback))
    right.set_ylabel("")  # the same f on the same scale: named once, on the left
    left.set_title("stop: the run ends where it blew up")
    right.set_title("rollback: back to the best point, lr halved")
    rows = [
        [f'on_divergence="{mode}"', str(res.status), float(res.fun), float(res.best_fun),
         res.nit, len(res.events), _final_lr(res)]
        for mode, res in runs.items()
    ]  # fmt: skip
    stopped = stop.message.split(";")[0]
    rolled = "; ".join(_event(event) for event in rollback.events)
    return Content(
        f"Rolling back to the best point and halving the lr ({len(rollback.events)} times, to "
        f"{_final_lr(rollback):g}) turns the run that diverged after {stop.nit} updates into "
        f"one that {rollback.status} after {rollback.nit}.",
        [
            paragraph(
                f"{label} on Rosenbrock's function from (−1.2, 1), at most "
                f"{TOO_LARGE['max_iter']} updates: the lr is too large for the valley's "
                "walls, so the first steps overshoot. The same run twice: with "
                'on_divergence="stop", the default, minimize ends the run when f blows up; '
                'with on_divergence="rollback" it returns to the best point so far and '
                "halves the lr (lr_factor=0.5) when f becomes non-finite, rises tenfold "
                "above its best (rise_factor=10) or the steps keep bouncing without a new "
                "best."
            ),
            page.figure("recovering", figure, "loss curves with stop and with rollback"),
            paragraph(
                f'With on_divergence="stop" the run ends after {stop.nit} updates with status '
                f"{stop.status}, final f = {stop.fun:.3g}; its message begins “{stopped}”. "
                'With on_divergence="rollback" it '
                f"rolled back {len(rollback.events)} times: {rolled}. It then "
                f"{rollback.status} after {rollback.nit} updates, final f = "
                f"{rollback.fun:.3g}."
            ),
            table(COLUMNS, rows),
            paragraph(
                "The red dashed lines are the rollbacks, at the update after which each "
                "happened (the curve shows the f that triggered it); res.events lists them "
                "and res.best_x, res.best_fun and res.best_nit hold the best point of any run.",
                note=True,
            ),
        ],
    )


def _final_lr(res: Result) -> float:
    """The learning rate a run ended with: the last rollback's, else the one it was given."""
    return float(res.events[-1].lr_after if res.events else TOO_LARGE["lr"])


def _shared(*results: Result) -> tuple[float, float]:
    """One log y range for every run's finite f values, so the panels compare."""
    f = np.concatenate([res.history.f for res in results])
    f = f[np.isfinite(f) & (f > 0)]
    return float(f.min()) / 10, float(f.max()) * 100  # room for the cross
