"""The HTML report that ``descend demo --out DIR`` writes: descend at work, section by section.

Each section runs its experiments, draws its figures into ``DIR/figures`` and returns its
HTML; every number on the page comes from those runs. The page needs nothing from the
network: its style is inline and its figures are PNG files beside it. The page's pieces
(its folder, style, tables and paragraphs) are in :mod:`descend.viz._page`; the two
sections that look inside runs (what an update is made of, a rollback from a step too
large) are in :mod:`descend.viz._inside`.

>>> from descend import report
>>> [title for title, _ in report.SECTIONS][:2]
['The update rules side by side', 'Learning rate: too small, right, too large, diverging']
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from descend._progress import Bar
from descend.analysis.diagnose import diagnose
from descend.analysis.restarts import multistart
from descend.analysis.sweep import sweep
from descend.core.minimize import minimize
from descend.gradients.formulas import parse
from descend.problems import digits, functions
from descend.viz import demo, plot

from ._inside import inside_the_update, recovering
from ._page import STYLE, Page, paragraph, runs_table, table

__all__ = ["SECTIONS", "build"]

BOWL = "(x-1)**2 + 3*y**2"  # an axis-aligned bowl, flatter along x than along y


def update_rules(page: Page) -> str:
    """Every method on the bowl and on Rosenbrock: paths and losses."""
    parts = [
        paragraph(
            "Each method from the same start with the step size that suits the problem's "
            "scale; the line searches (Armijo, BB, L-BFGS) and the learning-rate-free methods "
            "(DoG, Prodigy) choose their own. Left: the paths over the contours; right: f "
            "against iteration."
        )
    ]
    for slug, problem in (("bowl", demo.PROBLEMS[2]), ("rosenbrock", demo.PROBLEMS[3])):
        runs = [(method, res) for _, method, res in demo.run([problem])]
        methods, results = [m for m, _ in runs], [r for _, r in runs]
        figure, (left, right) = page.panels(2)
        plot.path(problem.fun, *results, labels=methods, ax=left)
        plot.loss(*results, labels=methods, ax=right)
        left.set_title(problem.name)
        parts.append(f"<h3>{html.escape(problem.name)}</h3>")
        parts.append(page.figure(f"rules-{slug}", figure, f"paths on {problem.name}"))
        parts.append(runs_table(results, methods, problem.minima[0]))
    return "".join(parts)


def learning_rates(page: Page) -> str:
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
    return "".join(
        [
            paragraph(
                f"f = {BOWL} from (3, 4), 100 updates at most. The Hessian's eigenvalues "
                f"(curvatures) are {curvatures[0]:.4g} and {curvatures[-1]:.4g}, so plain "
                f"gradient descent is stable for lr < 2/{curvatures[-1]:.4g} = "
                f"{2 / curvatures[-1]:.4g}: below that it is slow or right, near it the y "
                "coordinate oscillates, beyond it the run diverges. The diagnosis column is "
                "dd.diagnose(result) on each run."
            ),
            page.figure("learning-rates", figure, "paths at four learning rates"),
            page.figure("learning-rates-loss", figure_loss, "losses at four learning rates"),
            table(["lr", "status", "final f", "updates", "diagnosis"], rows),
        ]
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


def momentum_grid(page: Page) -> str:
    """A learning rate x momentum sweep on an ill-conditioned quadratic."""
    formula = "x**2 + 10*y**2"
    grid = sweep(formula, [1.0, 1.0], "momentum", lr=[0.01, 0.03, 0.09],
                 momentum=[0.0, 0.5, 0.9], max_iter=300)  # fmt: skip
    rows = [list(row.values()) for row in grid.rows()]
    best = grid.best_params
    return "".join(
        [
            paragraph(
                f"dd.sweep over lr × momentum on f = {formula} from (1, 1), 300 updates at "
                f"most: columns are learning rates, rows momenta. Best final f: {best}."
            ),
            page.figure("momentum-grid", plot.sweep(grid), "learning rate by momentum grid"),
            table([*grid.names, "final f", "updates", "status", "seconds"], rows),
        ]
    )


def digits_classifier(page: Page) -> str:
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
    return "".join(
        [
            paragraph(
                "Zeros against ones from scikit-learn's 8×8 digits, least squares on 0/1 "
                "targets, class 1 when x·w > 0.5; momentum 0.7, lr 1e-6, stopping when f "
                "changes by less than 0.1 between epochs."
            ),
            page.figure("digits-loss", figure, "digits loss per epoch"),
            table(["run", "updates", "epochs", "final f", "train error", "test error"], rows),
        ]
    )


def _rosenbrock(x: Any) -> Any:
    """Rosenbrock's function in plain operators, which autograd can trace (the zoo's
    version uses NumPy dot products on arrays, which it cannot)."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def gradients(page: Page) -> str:
    """Hand-written, symbolic, automatic and numerical gradients on Rosenbrock."""
    from autograd import grad as autograd_grad

    from descend.gradients.numeric import numeric_grad

    exact = functions.rosenbrock.grad
    formula = "(1 - x)**2 + 100*(y - x**2)**2"
    sources: list[tuple[str, Any, Any, Callable[[Any], Any]]] = [
        ("hand-written", _rosenbrock, exact, exact),
        ("symbolic (formula)", formula, None, parse(formula).grad),
        ("automatic (autograd)", _rosenbrock, "autograd", autograd_grad(_rosenbrock)),
        ("numerical (central)", _rosenbrock, "numeric", lambda x: numeric_grad(_rosenbrock, x)),
    ]
    points = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    rows = []
    results = []
    for label, fun, grad, gradient in sources:
        res = minimize(fun, [-1.2, 1.0], "bb", grad=grad, max_iter=2000)
        results.append(res)
        error = max(
            float(np.linalg.norm(np.asarray(gradient(p)) - exact(p)) / np.linalg.norm(exact(p)))
            for p in points
        )
        rows.append([label, error, str(res.status), float(res.fun), res.nit, res.nfev,
                     res.ngev, res.elapsed * 1e3])  # fmt: skip
    figure, (ax,) = page.panels(1, 7.0, 4.0)
    plot.loss(*results, labels=[label for label, *_ in sources], ax=ax)
    return "".join(
        [
            paragraph(
                "BB from (−1.2, 1) with the gradient from four sources. The error column is "
                "the largest relative error against the hand-written gradient at 50 random "
                "points of [−2, 2]²; f and gradient evaluations are as minimize counted them "
                "(central differences spend 4 evaluations of f per gradient)."
            ),
            page.figure("gradients-loss", figure, "loss with four gradient sources"),
            table(
                [
                    "gradient",
                    "max rel. error",
                    "status",
                    "final f",
                    "updates",
                    "f evals",
                    "grad evals",
                    "ms",
                ],
                rows,
            ),
        ]
    )


def recommender(page: Page) -> str:
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
    figure, (ax,) = page.panels(1, 7.0, 4.5)
    rows = []
    for i, (label, model) in enumerate(models.items()):
        started = time.perf_counter()
        model.fit(train.users, train.items, train.ratings, validation=held_out)
        seconds = time.perf_counter() - started
        epochs = np.arange(1, model.n_iter_ + 1)
        ax.plot(
            epochs, model.history_["train_rmse"], color=f"C{i}", ls="--", label=f"{label}, train"
        )
        ax.plot(epochs, model.history_["validation_rmse"], color=f"C{i}", label=f"{label}, test")
        rows.append([label, model.n_iter_, model.best_epoch_, -model.score(*held_out), seconds])
    mean_only = rmse(np.full(len(test), train.ratings.mean()), test.ratings)
    ax.axhline(mean_only, color="0.5", lw=0.8, label="global mean")
    ax.axhline(data.floor, color="k", lw=0.8, ls=":", label="noise floor")
    ax.set(xlabel="epoch", ylabel="RMSE", title="matrix factorisation, per-rating SGD")
    ax.legend()
    rows.append(["global mean", "", "", mean_only, ""])
    rows.append(["noise floor (the true expected ratings)", "", "", data.floor, ""])
    return "".join(
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
        ]
    )


def restarts(page: Page) -> str:
    """Multistart on Himmelblau: 40 starts, every minimum."""
    f = functions.himmelblau
    found = multistart(f, f.bounds, n_starts=40, seed=0, method="gd", lr=0.01, max_iter=5000)
    figure, (ax,) = page.panels(1, 7.0, 6.0)
    plot.path(f, *found.results, ax=ax)
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    ax.set_title("40 starts on Himmelblau's function (gradient descent, lr 0.01)")
    rows = [[f"({m.x[0]:.6f}, {m.x[1]:.6f})", float(m.fun), m.count] for m in found.minima]
    return "".join(
        [
            paragraph(
                "dd.multistart: 40 starts from a Latin hypercube over [−5, 5]², one gradient "
                "descent run from each, end points grouped into distinct minima. Himmelblau's "
                f"function has {len(f.minima)} minima, all with f = {f.fmin:g}; the runs "
                f"found {len(found.minima)}."
            ),
            page.figure("restarts", figure, "multistart paths on Himmelblau"),
            table(["minimum", "f", "starts that reached it"], rows),
        ]
    )


def portfolio(page: Page) -> str:
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
    left.legend()
    positions = np.arange(n)
    right.bar(positions - 0.2, free.weights, 0.4, label="long-only")
    right.bar(positions + 0.2, capped.weights, 0.4, label=f"at most {cap:.0%}")
    right.axhline(cap, color="0.5", lw=0.8, ls="--")
    right.set(xlabel="asset", ylabel="weight", title="minimum-variance weights", xticks=positions)
    right.legend()
    rows = [
        [f"asset {i}", float(np.sqrt(cov[i, i])), float(mu[i]), float(free.weights[i]),
         float(capped.weights[i])]
        for i in range(n)
    ]  # fmt: skip
    rows.append(["portfolio volatility", "", "", free.volatility, capped.volatility])
    return "".join(
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
        ]
    )


SECTIONS: tuple[tuple[str, Callable[[Page], str]], ...] = (
    ("The update rules side by side", update_rules),
    ("Learning rate: too small, right, too large, diverging", learning_rates),
    ("Recovering from a step too large", recovering),
    ("Learning rate × momentum", momentum_grid),
    ("Inside the update", inside_the_update),
    ("Batch, single-sample and mini-batch descent: the digits classifier", digits_classifier),
    ("Gradients: by hand, symbolic, automatic, numerical", gradients),
    ("A long-only portfolio and its efficient frontier", portfolio),
    ("A recommender: matrix factorisation", recommender),
    ("Restarts: every minimum of Himmelblau's function", restarts),
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
    About twenty seconds on two cores (tests/test_report.py builds it and reads it back):

    >>> from descend import report
    >>> report.build("report", progress=False).name  # doctest: +SKIP
    'index.html'
    """
    page = Page(Path(out))
    started = time.perf_counter()
    bar = Bar(len(SECTIONS), unit="section", stream=stream) if progress else None
    body = []
    for done, (title, section) in enumerate(SECTIONS):
        if bar is not None:
            bar.show(done, title)
        try:
            content = section(page)
        except ImportError as error:  # an extra that is not installed: say which
            content = paragraph(f"Skipped: {error}", note=True)
        body.append(f"<h2>{html.escape(title)}</h2>{content}")
    seconds = time.perf_counter() - started
    if bar is not None:
        bar.show(len(SECTIONS), "done")
        bar.close()
    index = page.folder / "index.html"
    index.write_text(
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>descend report</title><style>{STYLE}</style></head><body>"
        "<h1>descend: gradient descent at work</h1>"
        + paragraph(f"Every figure and number below was computed by this run, in {seconds:.0f} s.",
                    note=True)
        + "".join(body)
        + "</body></html>",
        encoding="utf-8",
    )  # fmt: skip
    return index
