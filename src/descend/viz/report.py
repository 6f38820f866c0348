"""The HTML report that ``descend demo --out DIR`` writes: descend at work, section by section.

Each section runs its experiments, draws its figures into ``DIR/figures`` and returns its
content: a one-line take-away and its blocks (paragraphs, figures, tables); every number
on the page comes from those runs. A Jinja2 template, autoescaped, lays them out with a
table of contents and, under each section, the code that made it. The page needs nothing
from the network: its style is inline and its figures are PNG files beside it. The page's
pieces (its folder, blocks and template) are in :mod:`descend.viz._page`; the two sections
that look inside runs (what an update is made of, a rollback from a step too large) are
in :mod:`descend.viz._inside`.

>>> from descend import report
>>> [title for title, _ in report.SECTIONS][:2]
['The update rules side by side', 'Learning rate: too small, right, too large, diverging']
"""

from __future__ import annotations

import inspect
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import numpy as np

from descend._progress import Bar
from descend.analysis.diagnose import diagnose
from descend.analysis.restarts import multistart
from descend.analysis.sweep import sweep
from descend.core.minimize import minimize
from descend.core.optimizers import AdamW
from descend.gradients.formulas import parse
from descend.problems import digits, functions
from descend.viz import demo, plot

from ._inside import inside_the_update, recovering
from ._page import Content, Heading, Page, legend_below, paragraph, render, runs_table, table
from ._scene import BELOW, _legend, _style

__all__ = ["SECTIONS", "build"]

BOWL = "(x-1)**2 + 3*y**2"  # an axis-aligned bowl, flatter along x than along y
GTOL = inspect.signature(minimize).parameters["gtol"].default  # the demo's runs keep it
FLOOR = 1e-18  # where a gradient error of exactly 0 is drawn, on a log axis
COLUMNS = ("gradient", "max rel. error", "status", "final f", "updates", "f evals",
           "grad evals", "ms")  # fmt: skip


def update_rules(page: Page) -> Content:
    """Every method on the bowl and on Rosenbrock: paths and losses."""
    blocks: list[Any] = [
        paragraph(
            "Each method from the same start with the step size that suits the problem's "
            "scale; the line searches (Armijo, BB, L-BFGS) and the learning-rate-free methods "
            "(DoG, Prodigy) choose their own. Left: the paths over the contours of f; right: "
            "the gap f − f* to the minimum against iteration. Each method has its own "
            "colour and line style in both panels."
        )
    ]
    story = []
    problems = (("bowl", "the bowl", demo.PROBLEMS[2]),
                ("rosenbrock", "Rosenbrock's valley", demo.PROBLEMS[3]))  # fmt: skip
    for slug, name, problem in problems:
        runs = {method: res for _, method, res in demo.run([problem])}
        methods, results = list(runs), list(runs.values())
        fmin = float(problem.fun(np.asarray(problem.minima[0], dtype=float)))
        figure, (left, right) = page.panels(2, 6.2, 5.0)
        plot.path(problem.fun, *results, labels=methods, ax=left)
        plot.loss(*results, labels=methods, fmin=fmin, ax=right)
        left.set_title(problem.name)
        legend_below(figure, left)
        blocks.append(Heading(problem.name))
        blocks.append(page.figure(f"rules-{slug}", figure, f"paths on {problem.name}"))
        blocks.append(runs_table(results, methods, problem.minima[0]))
        if runs["adamw"].status == "max_iter":
            blocks.append(paragraph(_adamw_note(runs["adamw"], problem), note=True))
        converged = {m: r.nit for m, r in runs.items() if r.status == "converged"}
        fastest = min(converged, key=converged.__getitem__)
        story.append(
            f"on {name} {len(converged)} of {len(runs)} methods converge, "
            f"{fastest} first ({converged[fastest]:,} updates)"
        )
    text = "; ".join(story)
    return Content(text[0].upper() + text[1:] + ".", blocks)


def _adamw_note(res: Any, problem: demo.Problem) -> str:
    """Why AdamW runs to max_iter: the decay moves its fixed point off the minimum."""
    x = ", ".join(f"{v:.3g}" for v in np.atleast_1d(res.x))
    decay = AdamW().weight_decay  # demo.settings gives AdamW its lr alone
    return (
        f"AdamW ends at max_iter ({res.nit:,} updates): its weight decay ({decay:g}) pulls x "
        f"towards 0, which moves its fixed point off the minimum to ({x}), where "
        f"‖∇f‖ = {np.linalg.norm(res.grad):.2g} stays above gtol = {GTOL:g}; the decay "
        "working, not a failure to converge."
    )


def learning_rates(page: Page) -> Content:
    """Plain GD on the bowl at four learning rates, each with its diagnosis."""
    rates = [0.01, 0.1, 0.32, 0.4]
    grid = sweep(BOWL, [3.0, 4.0], "gd", lr=rates, max_iter=100)
    curvatures = _curvatures(parse(BOWL).grad, np.array([3.0, 4.0]))
    results = [grid.results[(lr,)] for lr in rates]
    figure = plot.sweep(grid)
    figure_loss, (ax,) = page.panels(1, 7.0, 4.0)
    plot.loss(*results, labels=[f"lr={lr:g}" for lr in rates], ax=ax)
    rows = [
        [f"{lr:g}", str(res.status), float(res.fun), res.nit, str(diagnose(res).main)]
        for lr, res in zip(rates, results, strict=True)
    ]
    limit = 2 / curvatures[-1]
    runs = list(zip(rates, results, strict=True))
    fastest, best = min(((lr, r) for lr, r in runs if r.status == "converged"),
                        key=lambda run: run[1].nit)  # fmt: skip
    diverged = " and ".join(f"{lr:g}" for lr, r in runs if r.status == "diverged")
    takeaway = (
        f"Plain gradient descent is stable for lr < 2/L = {limit:.3g}: lr {fastest:g} "
        f"converges in {best.nit} updates, lr {diverged} diverges."
    )
    return Content(
        takeaway,
        [
            paragraph(
                f"f = {BOWL} from (3, 4), 100 updates at most. The Hessian's eigenvalues "
                f"(curvatures) are {curvatures[0]:.4g} and {curvatures[-1]:.4g}, so plain "
                f"gradient descent is stable for lr < 2/{curvatures[-1]:.4g} = "
                f"{limit:.4g}: below that it is slow or right, near it the y "
                "coordinate oscillates, beyond it the run diverges. The panels share one "
                "window, that of the runs that stayed finite; the diverged run is cut at its "
                "edge, with a cross where it left. The diagnosis column is dd.diagnose on "
                "each run."
            ),
            page.figure("learning-rates", figure, "paths at four learning rates"),
            page.figure("learning-rates-loss", figure_loss, "losses at four learning rates"),
            table(["lr", "status", "final f", "updates", "diagnosis"], rows),
        ],
    )


def _curvatures(gradient: Callable[[Any], Any], x: Any, step: float = 1e-4) -> Any:
    """The Hessian's eigenvalues at ``x``, ascending, from central differences of the
    gradient (exact, up to rounding, for a quadratic)."""
    columns = [
        (np.asarray(gradient(x + step * e)) - np.asarray(gradient(x - step * e))) / (2 * step)
        for e in np.eye(len(x))
    ]
    hessian = np.array(columns)
    return np.linalg.eigvalsh((hessian + hessian.T) / 2)


def momentum_grid(page: Page) -> Content:
    """A learning rate x momentum sweep on an ill-conditioned quadratic."""
    formula = "x**2 + 10*y**2"
    grid = sweep(formula, [1.0, 1.0], "momentum", lr=[0.01, 0.03, 0.09],
                 momentum=[0.0, 0.5, 0.9], max_iter=300)  # fmt: skip
    rows = [list(row.values()) for row in grid.rows()]
    if grid.best is None or grid.best_params is None:
        raise RuntimeError("every run of the momentum grid diverged")  # its settings are fixed
    best = ", ".join(f"{name} {value:g}" for name, value in grid.best_params.items())
    plain = min((r for (_, m), r in grid.results.items() if m == 0.0), key=lambda r: r.fun)
    return Content(
        f"The best pair, {best}, ends at f = {grid.best.fun:.2g}, against {plain.fun:.2g} for "
        "plain gradient descent (momentum 0) at its best learning rate.",
        [
            paragraph(
                f"dd.sweep over lr × momentum on f = {formula} from (1, 1), 300 updates at "
                "most: columns are learning rates, rows momenta, every panel in the same "
                f"window and colour scale. Best final f: {best}."
            ),
            page.figure("momentum-grid", plot.sweep(grid), "learning rate by momentum grid"),
            table([*grid.names, "final f", "updates", "status", "seconds"], rows),
        ],
    )


def digits_classifier(page: Page) -> Content:
    """Batch, single-sample and mini-batch momentum descent on digits 0 vs 1."""
    split = digits.load()
    w0 = digits.start(digits.START_SEED)
    runs = [digits.batch(split, w0), digits.single_sample(split, w0), digits.mini_batch(split, w0)]
    figure, (ax,) = page.panels(1, 7.0, 4.0)
    plot.loss(*(run.result for run in runs), labels=[run.label for run in runs], ax=ax)
    ax.set_xlabel("epoch (pass over the 288 training rows)")
    rows = [
        [run.label, run.iterations, run.epochs, float(run.result.fun),
         f"{run.train_error:.2%}", f"{run.test_error:.2%}"]
        for run in runs
    ]  # fmt: skip
    quickest = min(runs, key=lambda run: run.epochs)
    errors = [f"{e:.2%}" for e in sorted({round(run.test_error, 4) for run in runs})]
    reach = f"a test error of {errors[0]}" if len(errors) == 1 else (
        f"test errors from {errors[0]} to {errors[-1]}")  # fmt: skip
    return Content(
        f"{quickest.label.capitalize()} stops first, after {quickest.epochs} epochs; all three "
        f"classify the held-out digits with {reach}.",
        [
            paragraph(
                "Zeros against ones from scikit-learn's 8×8 digits, least squares on 0/1 "
                "targets, class 1 when x·w > 0.5; momentum 0.7, lr 1e-6, stopping when f "
                "changes by less than 0.1 between epochs."
            ),
            page.figure("digits-loss", figure, "digits loss per epoch"),
            table(["run", "updates", "epochs", "final f", "train error", "test error"], rows),
        ],
    )


def _rosenbrock(x: Any) -> Any:
    """Rosenbrock's function in plain operators, which autograd can trace (the zoo's
    version uses NumPy dot products on arrays, which it cannot)."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


class _Numeric:
    """A finite-difference gradient of :func:`_rosenbrock` by ``method``, counting the
    evaluations of f it spends (minimize counts only its own calls of f)."""

    def __init__(self, method: str) -> None:
        self.method, self.calls = method, 0

    def _f(self, x: Any) -> Any:
        self.calls += 1
        return _rosenbrock(x)

    def __call__(self, x: Any) -> Any:
        from descend.gradients.numeric import numeric_grad

        return numeric_grad(self._f, x, method=self.method)


def gradients(page: Page) -> Content:
    """Hand-written, symbolic, automatic and numerical gradients on Rosenbrock."""
    from autograd import grad as autograd_grad

    exact = functions.rosenbrock.grad
    formula = "(1 - x)**2 + 100*(y - x**2)**2"
    sources: list[tuple[str, Any, Any, Callable[[Any], Any]]] = [
        ("hand-written", _rosenbrock, exact, exact),
        ("symbolic (formula)", formula, None, parse(formula).grad),
        ("automatic (autograd)", _rosenbrock, "autograd", autograd_grad(_rosenbrock)),
        ("numerical (forward)", _rosenbrock, _Numeric("forward"), _Numeric("forward")),
        ("numerical (central)", _rosenbrock, "numeric", _Numeric("central")),
        ("numerical (Richardson)", _rosenbrock, _Numeric("richardson"), _Numeric("richardson")),
    ]
    points = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    figure, (ax,) = page.panels(1, 7.5, 4.5)
    rows, worst = [], {}
    for i, (label, fun, grad, gradient) in enumerate(sources):
        res = minimize(fun, [-1.2, 1.0], "bb", grad=grad, max_iter=2000)
        errors = np.sort([
            float(np.linalg.norm(np.asarray(gradient(p)) - exact(p)) / np.linalg.norm(exact(p)))
            for p in points
        ])  # fmt: skip
        worst[label] = errors[-1]
        if i:  # the hand-written gradient is the reference, its error 0 by definition
            ax.plot(np.arange(1, len(points) + 1), np.maximum(errors, FLOOR), marker=".",
                    label=f"{label}: {np.sum(errors == 0)} exact", **_style(i))  # fmt: skip
        spent = grad.calls if isinstance(grad, _Numeric) else 0  # f inside the gradient
        rows.append([label, errors[-1], str(res.status), float(res.fun), res.nit,
                     res.nfev + spent, res.ngev, res.elapsed * 1e3])  # fmt: skip
    ax.axhline(np.finfo(float).eps, color="0.4", lw=0.8, ls=(0, (1, 3)), label="machine epsilon")
    ax.set(yscale="log", xlabel="the 50 points, each source's sorted by its error",
           ylabel="relative error", title="error against the hand-written gradient")  # fmt: skip
    _legend(ax)
    exactly = [label for label, *_ in sources[1:3]]
    return Content(
        f"The symbolic and automatic gradients agree with the hand-written one to rounding "
        f"(at most {max(worst[label] for label in exactly):.1g}); finite differences are off by "
        f"up to "
        f"{worst['numerical (forward)']:.1g} (forward), {worst['numerical (central)']:.1g} "
        f"(central) and {worst['numerical (Richardson)']:.1g} (Richardson).",
        [
            paragraph(
                "The largest relative error against the hand-written gradient at 50 random "
                "points of [−2, 2]², and BB from (−1.2, 1) with each gradient source. The "
                f"figure shows every point's error, sorted; an exact match (error 0) is drawn "
                f"at {FLOOR:g}, under the machine epsilon, and counted in the legend. The f "
                "evaluations include those a numerical gradient spends (central differences: "
                "4 per gradient of two variables, forward 3, Richardson more)."
            ),
            page.figure("gradients-error", figure, "gradient errors by source"),
            table(COLUMNS, rows),
        ],
    )


def recommender(page: Page) -> Content:
    """Matrix factorisation on synthetic ratings: RMSE per epoch against the noise floor."""
    from descend.models import MatrixFactorization
    from descend.problems.datasets import make_ratings, rmse

    data = make_ratings(seed=0)  # the MovieLens-1M shape
    train, test = data.split(0.2, seed=0)
    held_out = (test.users, test.items, test.ratings)
    models = {
        "biases only": MatrixFactorization(n_factors=0, epochs=30, random_state=0),
        "50 factors": MatrixFactorization(n_factors=50, epochs=30, random_state=0),
    }
    figure, (ax,) = page.panels(1, 7.5, 4.5)
    rows, scores = [], {}
    for i, (label, model) in enumerate(models.items()):
        started = time.perf_counter()
        model.fit(train.users, train.items, train.ratings, validation=held_out)
        seconds = time.perf_counter() - started
        epochs = np.arange(1, model.n_iter_ + 1)
        colour = _style(i)["color"]
        ax.plot(epochs, model.history_["train_rmse"], color=colour, ls="--",
                label=f"{label}, train")  # fmt: skip
        ax.plot(epochs, model.history_["validation_rmse"], color=colour, label=f"{label}, test")
        scores[label] = -model.score(*held_out)
        rows.append([label, model.n_iter_, model.best_epoch_, scores[label], seconds])
    mean_only = rmse(np.full(len(test), train.ratings.mean()), test.ratings)
    ax.axhline(mean_only, color="0.5", lw=0.8, label="global mean")
    ax.axhline(data.floor, color="k", lw=0.8, ls=":", label="noise floor")
    ax.set(xlabel="epoch", ylabel="RMSE", title="matrix factorisation, per-rating SGD")
    _legend(ax)
    rows.append(["global mean", "", "", mean_only, ""])
    rows.append(["noise floor (the true expected ratings)", "", "", data.floor, ""])
    return Content(
        f"50 factors reach a test RMSE of {scores['50 factors']:.3f}, "
        f"{scores['50 factors'] - data.floor:.3f} above the noise floor; biases alone stop at "
        f"{scores['biases only']:.3f} and the global mean at {mean_only:.3f}.",
        [
            paragraph(
                f"descend.datasets.make_ratings: {len(data):,} ratings of {data.shape[1]:,} "
                f"items by {data.shape[0]:,} users (long-tailed activity, seeded), split "
                "80/20. models.MatrixFactorization with its defaults but up to 30 epochs: "
                "per-rating SGD in a compiled epoch, stopping 5 epochs after the test RMSE "
                "last fell and keeping the best epoch."
            ),
            page.figure("recommender", figure, "RMSE per epoch"),
            table(["model", "epochs", "best epoch", "test RMSE", "seconds"], rows),
        ],
    )


def restarts(page: Page) -> Content:
    """Multistart on Himmelblau: 40 starts, every minimum."""
    f = functions.himmelblau
    found = multistart(f, f.bounds, n_starts=40, seed=0, method="gd", lr=0.01, max_iter=5000)
    figure, (ax,) = page.panels(1, 7.0, 6.5)
    plot.path(f, *found.results, labels=["_"] * len(found.results), ax=ax)
    minima = next(c for c in ax.collections if c.get_label() == "minima")
    handles = [minima, ax.get_lines()[0]]  # one run stands for all
    starts = len(found.results)
    ax.legend(
        handles,
        ["minima", f"a gradient descent run ({starts} in all)"],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        borderaxespad=BELOW,
        ncols=2,
    )
    ax.set_title(f"{starts} starts on Himmelblau's function (gradient descent, lr 0.01)")
    rows = [[f"({m.x[0]:.6f}, {m.x[1]:.6f})", float(m.fun), m.count] for m in found.minima]
    counts = [m.count for m in found.minima]
    return Content(
        f"{len(found.results)} starts found {len(found.minima)} of the {len(f.minima)} minima, "
        f"each reached from {min(counts)} to {max(counts)} starts.",
        [
            paragraph(
                "dd.multistart: 40 starts from a Latin hypercube over [−5, 5]², one gradient "
                "descent run from each, end points grouped into distinct minima. Himmelblau's "
                f"function has {len(f.minima)} minima, all with f = {f.fmin:g}; the runs "
                f"found {len(found.minima)}."
            ),
            page.figure("restarts", figure, "multistart paths on Himmelblau"),
            table(["minimum", "f", "starts that reached it"], rows),
        ],
    )


def portfolio(page: Page) -> Content:
    """The long-only minimum-variance portfolio and efficient frontiers, with and without caps."""
    from descend.models import efficient_frontier, min_variance_portfolio

    rng = np.random.default_rng(7)
    n = 10
    beta = rng.uniform(0.2, 1.4, n)  # exposure to one market factor
    own = rng.uniform(0.05, 0.30, n)  # each asset's own volatility
    cov = 0.16**2 * np.outer(beta, beta) + np.diag(own**2)
    mu = 0.02 + 0.06 * beta + rng.normal(0, 0.01, n)
    cap = 0.25
    free = min_variance_portfolio(cov, expected_returns=mu)
    capped = min_variance_portfolio(cov, bounds=(0.0, cap), expected_returns=mu)
    frontiers = {
        "long-only": efficient_frontier(cov, mu, 20),
        f"long-only, at most {cap:.0%} each": efficient_frontier(cov, mu, 20, bounds=(0.0, cap)),
    }
    figure, (left, right) = page.panels(2)
    for i, (label, frontier) in enumerate(frontiers.items()):
        left.plot(frontier.volatilities, frontier.returns, "o-", ms=3, color=f"C{i}", label=label)
    left.scatter(np.sqrt(np.diag(cov)), mu, color="0.4", marker="x", label="single assets")
    left.set(xlabel="volatility", ylabel="expected return", title="efficient frontiers")
    _legend(left, "below")
    positions = np.arange(n)
    right.bar(positions - 0.2, free.weights, 0.4, label="long-only")
    right.bar(positions + 0.2, capped.weights, 0.4, label=f"at most {cap:.0%}")
    right.axhline(cap, color="0.5", lw=0.8, ls="--")
    right.set(xlabel="asset", ylabel="weight", title="minimum-variance weights", xticks=positions)
    _legend(right, "below")
    rows = [
        [f"asset {i}", float(np.sqrt(cov[i, i])), float(mu[i]), float(free.weights[i]),
         float(capped.weights[i])]
        for i in range(n)
    ]  # fmt: skip
    rows.append(["portfolio volatility", "", "", free.volatility, capped.volatility])
    held = [int(np.sum(w.weights > 1e-6)) for w in (free, capped)]
    return Content(
        f"A cap of {cap:.0%} per asset spreads the money over {held[1]} assets instead of "
        f"{held[0]}, for a volatility of {capped.volatility:.3g} against {free.volatility:.3g}.",
        [
            paragraph(
                f"{n} assets with one market factor (seeded). models.min_variance_portfolio "
                "solves min wᵀΣw over weights that sum to 1 by projected Nesterov descent onto "
                f"the exact feasible set, long-only and with a cap of {cap:.0%} per asset; "
                f"{free.result.nit} and {capped.result.nit} updates. The frontiers are 20 "
                "target returns each, from the minimum-variance portfolio to the largest "
                "return the constraints allow."
            ),
            page.figure("portfolio", figure, "efficient frontiers and weights"),
            table(["asset", "volatility", "expected return", "long-only", f"≤ {cap:.0%}"], rows),
        ],
    )


class Section(NamedTuple):
    """A section of the report: its title, and the function that runs it."""

    title: str
    run: Callable[[Page], Content]

    @property
    def slug(self) -> str:
        """The section's id on the page, from its title: ``learning-rate-momentum``."""
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


SECTIONS: tuple[Section, ...] = (
    Section("The update rules side by side", update_rules),
    Section("Learning rate: too small, right, too large, diverging", learning_rates),
    Section("Recovering from a step too large", recovering),
    Section("Learning rate × momentum", momentum_grid),
    Section("Inside the update", inside_the_update),
    Section(
        "Batch, single-sample and mini-batch descent: the digits classifier", digits_classifier
    ),
    Section("Gradients: by hand, symbolic, automatic, numerical", gradients),
    Section("A long-only portfolio and its efficient frontier", portfolio),
    Section("A recommender: matrix factorisation", recommender),
    Section("Restarts: every minimum of Himmelblau's function", restarts),
)


def build(
    out: str | os.PathLike[str], *, progress: bool = True, stream: TextIO | None = None
) -> Path:
    """Run every section and write ``out/index.html`` with its figures; return its path.

    With ``progress``, a tqdm bar on ``stream`` (stderr) shows the section under way, with
    the rate and the time left: redrawn in place on a terminal (a widget in a notebook), one
    line per section elsewhere (a log stays readable).

    Examples
    --------
    About forty seconds on two cores (tests/viz/test_report.py builds it and reads it back):

    >>> from descend import report
    >>> report.build("report", progress=False).name  # doctest: +SKIP
    'index.html'
    """
    page = Page(Path(out))
    started = time.perf_counter()
    bar = Bar(len(SECTIONS), unit="section", stream=stream) if progress else None
    sections = []
    for done, section in enumerate(SECTIONS):
        if bar is not None:
            bar.show(done, section.title)
        try:
            content = section.run(page)
        except ImportError as error:  # an extra that is not installed: say which
            content = Content("Skipped: an extra is missing.",
                              [paragraph(f"Skipped: {error}", note=True)])  # fmt: skip
        sections.append({"title": section.title, "slug": section.slug, "content": content,
                         "code": inspect.getsource(section.run)})  # fmt: skip
    if bar is not None:
        bar.show(len(SECTIONS), "done")
        bar.close()
    index = page.folder / "index.html"
    index.write_text(render(sections, time.perf_counter() - started), encoding="utf-8")
    return index
