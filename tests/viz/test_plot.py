"""descend.plot as a user sees it: rendered images, and the artists read back in data units."""

import itertools
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import descend.plot  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from descend.functions import himmelblau, quadratic, rosenbrock  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image, ImageSequence  # noqa: E402

import descend as dd  # noqa: E402
import descend.viz.animate  # noqa: E402


@pytest.fixture(autouse=True)
def no_open_figures():
    yield
    assert plt.get_fignums() == []  # descend.plot never leaves a pyplot figure open


def himmelblau_runs():
    gd = dd.minimize(himmelblau, himmelblau.x0, grad=himmelblau.grad, lr=0.01)
    momentum = dd.minimize(
        himmelblau, [-1.0, 0.0], grad=himmelblau.grad, method="momentum", lr=0.005, momentum=0.9
    )
    return gd, momentum


def check_image(figure, tmp_path, size=(640, 480)):
    """Save as PNG and check that it holds a real picture."""
    file = tmp_path / "figure.png"
    figure.savefig(file)
    image = Image.open(file).convert("RGB")
    assert image.size == size
    assert file.stat().st_size > 10_000
    assert len(image.getcolors(maxcolors=1 << 20)) > 100  # contours, lines and text, not a blank


def run_line(ax, label):
    """The points of the run labelled ``label``."""
    return next(line for line in ax.get_lines() if line.get_label() == label).get_xydata()


def minima_marked(ax):
    return next(c for c in ax.collections if c.get_label() in ("minimum", "minima")).get_offsets()


def test_import_descend_does_not_import_matplotlib():
    code = "import sys, descend; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_path_ends_at_a_marked_minimum(tmp_path):
    gd, momentum = himmelblau_runs()
    assert gd.status == momentum.status == "converged"
    ax = descend.plot.path(himmelblau, gd, momentum)
    check_image(ax.figure, tmp_path)
    marked = minima_marked(ax)
    np.testing.assert_array_equal(marked, himmelblau.minima)  # all four known minima
    for result in (gd, momentum):
        xy = run_line(ax, result.method)
        np.testing.assert_array_equal(xy, result.history.x)
        nearest = np.min(np.linalg.norm(marked - xy[-1], axis=1))
        assert nearest < 1e-3
    colours = [line.get_color() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert colours == ["C0", "C1"]  # one colour per run
    starts_and_ends = [tuple(line.get_xydata()[0]) for line in ax.get_lines()[1:3]]
    assert starts_and_ends == [tuple(gd.history.x[0]), tuple(gd.history.x[-1])]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["minima", "gd", "momentum"]
    assert (ax.get_xlim(), ax.get_ylim()) == himmelblau.bounds
    assert len(ax.figure.axes) == 2  # with its colour bar


def test_path_labels_bounds_and_levels():
    gd, _ = himmelblau_runs()
    ax = descend.plot.path(himmelblau, gd, bounds=[(0, 4), (-1, 3)], labels=["plain"], levels=8)
    assert run_line(ax, "plain").shape == (len(gd.history), 2)
    assert (ax.get_xlim(), ax.get_ylim()) == ((0, 4), (-1, 3))
    levels = ax.collections[0].levels
    assert len(levels) == 8 and np.allclose(np.diff(levels), levels[1] - levels[0])  # even
    with pytest.raises(ValueError, match=r"bounds must be \(\(xmin, xmax\), \(ymin, ymax\)\)"):
        descend.plot.path(himmelblau, gd, bounds=[(0, 4)])
    with pytest.raises(ValueError, match="labels must have one entry per run"):
        descend.plot.path(himmelblau, gd, labels=["a", "b"])


def test_rosenbrock_gets_log_spaced_levels():
    ax = descend.plot.path(rosenbrock)  # contours alone, in the function's own window
    above = ax.collections[0].levels[1:] - ax.collections[0].levels[0]  # above the grid's min
    ratios = above[1:] / above[:-1]
    assert np.allclose(ratios, ratios[0]) and ratios[0] > 1.2
    np.testing.assert_array_equal(minima_marked(ax), [[1.0, 1.0]])
    # Maximising -f, the levels are log-spaced down from the top: the same, mirrored.
    ascent = dd.maximize(lambda x: -rosenbrock(x), [-1.2, 1.0], grad=lambda x: -rosenbrock.grad(x))
    mirrored = descend.plot.path(lambda x: -rosenbrock(x), ascent, bounds=rosenbrock.bounds)
    np.testing.assert_allclose(mirrored.collections[0].levels, -ax.collections[0].levels[::-1])


def test_formulas_and_plain_functions_draw_the_same_contours():
    res = dd.minimize("x**2 + 3*y**2", [2.0, 1.0], lr=0.1)
    vectorised = descend.plot.path("x**2 + 3*y**2", res)
    one_at_a_time = descend.plot.path(lambda x: float(x @ np.diag([1.0, 3.0]) @ x), res)
    np.testing.assert_allclose(
        vectorised.collections[0].levels, one_at_a_time.collections[0].levels, rtol=1e-12
    )
    assert (vectorised.get_xlabel(), vectorised.get_ylabel()) == ("x", "y")
    assert vectorised.get_title() == "x**2 + 3*y**2"
    # The window is the box around the path with a margin.
    (x0, x1), (y0, y1) = vectorised.get_xlim(), vectorised.get_ylim()
    assert x0 < 0 < 2 < x1 and y0 < 0 < 1 < y1


def test_runs_in_five_dimensions_are_projected_on_their_principal_plane(tmp_path):
    res = dd.minimize(rosenbrock, np.zeros(5), grad=rosenbrock.grad, method="adam", lr=0.02)
    ax = descend.plot.path(rosenbrock, res)
    check_image(ax.figure, tmp_path)
    assert ax.get_xlabel() == "1st principal direction"
    # Oracle: the eigenvectors of the iterates' covariance, up to the sign of each axis.
    x = res.history.x
    eigenvectors = np.linalg.eigh(np.cov(x.T))[1]
    expected = (x - x.mean(axis=0)) @ eigenvectors[:, ::-1][:, :2]
    drawn = run_line(ax, "adam")
    np.testing.assert_allclose(np.abs(drawn), np.abs(expected), atol=1e-9)


def test_runs_without_recorded_iterates_are_refused():
    res = dd.minimize(himmelblau, himmelblau.x0, grad=himmelblau.grad, lr=0.01, record_x=False)
    with pytest.raises(ValueError, match=r"no recorded iterates.*record_x=True"):
        descend.plot.path(himmelblau, res)
    with pytest.raises(ValueError, match="record_x=True"):
        descend.plot.animate(himmelblau, res)
    with pytest.raises(ValueError, match="give bounds, or at least one run"):
        descend.plot.path(lambda x: x @ x)
    with pytest.raises(TypeError, match="fun must be a callable"):
        descend.plot.path(res)


def test_curve_shows_the_visited_points_and_steps(tmp_path):
    res = dd.minimize("x**4 - 3*x**2 + x", 2.0, lr=0.05)
    ax = descend.plot.curve("x**4 - 3*x**2 + x", res)
    check_image(ax.figure, tmp_path)
    np.testing.assert_array_equal(
        run_line(ax, "gd"), np.column_stack([res.history.x, res.history.f])
    )
    x, f = ax.get_lines()[0].get_xydata().T  # the objective under the points
    np.testing.assert_allclose(f, x**4 - 3 * x**2 + x, rtol=1e-12)
    arrows = ax.collections[0]
    assert len(arrows.get_offsets()) == res.nit  # one arrow per step
    one_d = quadratic([[2.0]], [4.0])  # a 1-D test function: its window and minimum
    res = dd.minimize(one_d, [0.0], grad=one_d.grad, lr=0.1)
    ax = descend.plot.curve(one_d, res)
    assert ax.get_xlim() == one_d.bounds[0]
    np.testing.assert_array_equal(minima_marked(ax), [[2.0, -4.0]])
    with pytest.raises(ValueError, match="one variable, got runs in 2 dimensions; use"):
        descend.plot.curve(himmelblau, himmelblau_runs()[0])


def test_loss_marks_a_diverged_run_where_it_blew_up(tmp_path):
    gd, momentum = himmelblau_runs()
    blown = dd.minimize(himmelblau, [4.0, 4.0], grad=himmelblau.grad, lr=0.1)
    assert blown.status == "diverged"
    ax = descend.plot.loss(gd, momentum, blown, fun=himmelblau)
    check_image(ax.figure, tmp_path)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "gd",
        "momentum",
        "gd (diverged)",
    ]
    (cross,) = [line for line in ax.get_lines() if line.get_marker() == "x"]
    finite = np.flatnonzero(np.isfinite(blown.history.f))[-1]
    np.testing.assert_array_equal(cross.get_xydata(), [[finite, blown.history.f[finite]]])
    assert cross.get_color() == "C2"
    assert ax.get_ylabel() == "f − f*" and ax.get_xlabel() == "iteration"
    assert ax.get_yscale() in ("log", "symlog")


def test_loss_on_a_log_scale_takes_zero_and_negative_values(tmp_path):
    bowl = quadratic([[2.0, 0.0], [0.0, 2.0]], b=[2.0, 4.0])  # fmin = -5 at (1, 2)
    res = dd.minimize(bowl, [0.0, 0.0], grad=bowl.grad, lr=0.5)  # lands exactly on x*
    assert res.history.f[-1] == bowl.fmin
    ax = descend.plot.loss(res, fmin=bowl.fmin)
    assert ax.get_yscale() == "symlog"
    y = ax.get_lines()[0].get_ydata()
    assert y[-1] == 0 and np.all(y >= 0)
    check_image(ax.figure, tmp_path)
    ax = descend.plot.loss(res)  # f itself goes from 0 to -5
    assert ax.get_yscale() == "symlog" and ax.get_ylabel() == "f"
    assert descend.plot.loss(res, log=False).get_yscale() == "linear"


def test_loss_counts_epochs_in_data_mode():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = X @ [1.0, -2.0]
    res = dd.minimize(
        lambda w, X, y: np.mean((X @ w - y) ** 2),
        np.zeros(2),
        grad=lambda w, X, y: 2 * X.T @ (X @ w - y) / len(y),
        lr=0.1,
        data=(X, y),
        batch_size=10,
        epochs=7,
        seed=0,
    )
    assert res.nepoch == 7 and res.nit == 35
    ax = descend.plot.loss(res)
    assert ax.get_xlabel() == "epoch"
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.arange(8))


def fake_sweep(fun, x0, **grid):
    """What dd.sweep returns, made here with minimize."""
    names = tuple(grid)
    results = {}
    for key in itertools.product(*grid.values()):
        settings = dict(zip(names, key, strict=True))
        method = "momentum" if "momentum" in settings else "gd"
        results[key] = dd.minimize(fun, x0, grad=fun.grad, method=method, max_iter=300, **settings)
    return SimpleNamespace(names=names, grid=grid, results=results, fun=fun, x0=x0)


def test_sweep_draws_learning_rates_across_and_momenta_down(tmp_path):
    sweep = fake_sweep(himmelblau, [0.0, 0.0], lr=(0.001, 0.01, 0.05), momentum=(0.0, 0.9))
    figure = descend.plot.sweep(sweep)
    check_image(figure, tmp_path, size=(900, 600))
    *panels, colorbar = figure.axes  # one colour bar for the grid: one window, one scale
    assert colorbar.get_title() == "f" and colorbar.get_ylabel() == ""
    axes = np.array(panels).reshape(2, 3)
    for (i, momentum), (j, lr) in itertools.product(
        enumerate(sweep.grid["momentum"]), enumerate(sweep.grid["lr"])
    ):
        result, title = sweep.results[(lr, momentum)], axes[i, j].get_title()
        assert title.startswith(f"lr={lr:g}, momentum={momentum:g}\n")
        assert str(result.status) in title and f"f={result.fun:.3g}" in title
        np.testing.assert_array_equal(run_line(axes[i, j], result.method), result.history.x)
    assert "diverged" in axes[1, 2].get_title()  # lr=0.05 with momentum 0.9 blows up
    columns = {round(ax.get_position().x0, 3) for ax in axes[:, 0]}
    assert len(columns) == 1  # one learning rate per column
    # Shared axes: every panel shows the function's window, the diverged one included,
    # and names its axes only on the outer edge.
    assert {(ax.get_xlim(), ax.get_ylim()) for ax in axes.flat} == {himmelblau.bounds}
    assert [ax.get_ylabel() for ax in axes[:, 1]] == ["", ""]
    assert [ax.get_xlabel() for ax in axes[1]] == ["x[0]"] * 3
    # The blow-up is marked where the run leaves the window.
    blown = sweep.results[(0.05, 0.9)].history.x
    (x0, x1), (y0, y1) = himmelblau.bounds
    inside = (blown[:, 0] >= x0) & (blown[:, 0] <= x1) & (blown[:, 1] >= y0) & (blown[:, 1] <= y1)
    left = int(np.argmin(inside))
    (cross,) = [line for line in axes[1, 2].get_lines() if line.get_marker() == "X"]
    (point,) = cross.get_xydata()  # on the step that leaves, where it meets the edge
    a, b = blown[left - 1], blown[left]
    t = np.linalg.norm(point - a) / np.linalg.norm(b - a)
    np.testing.assert_allclose(point, a + t * (b - a), atol=1e-9)
    on_edge = np.isclose(point[0], [x0, x1]).any() or np.isclose(point[1], [y0, y1]).any()
    assert 0 < t < 1 and on_edge
    assert f"leaves the window at update {left}" in axes[1, 2].texts[0].get_text()
    assert all(ax.title.get_fontsize() * 90 / 72 >= 11 for ax in axes.flat)


def test_sweep_of_one_parameter_is_one_row_of_loss_curves():
    sweep = fake_sweep(himmelblau, [0.0, 0.0], lr=(0.001, 0.01))
    figure = descend.plot.sweep(sweep, kind="loss")
    assert len(figure.axes) == 2
    assert [ax.get_title().split("\n")[0] for ax in figure.axes] == ["lr=0.001", "lr=0.01"]
    assert [ax.get_ylabel() for ax in figure.axes] == ["f − f*", ""]  # shared, named once
    assert figure.axes[0].get_ylim() == figure.axes[1].get_ylim()
    given = Figure().subplots(1, 2)
    assert descend.plot.sweep(sweep, kind="loss", ax=given) is given[0].figure
    with pytest.raises(ValueError, match=r"ax must hold 1 x 2 axes"):
        descend.plot.sweep(sweep, ax=Figure().subplots(2, 2))
    with pytest.raises(ValueError, match="kind must be 'path' or 'loss'"):
        descend.plot.sweep(sweep, kind="table")
    wide = SimpleNamespace(names=("lr", "momentum", "beta2"), grid={}, results={}, fun=himmelblau)
    with pytest.raises(ValueError, match="one or two parameters, got 3"):
        descend.plot.sweep(wide)


def test_a_diverged_loss_curve_is_cut_at_the_others_scale_and_marked():
    sweep = fake_sweep(himmelblau, [4.0, 4.0], lr=(0.01, 0.1))
    kept, blown = sweep.results[(0.01,)], sweep.results[(0.1,)]
    assert kept.status == "converged" and blown.status == "diverged"
    figure = descend.plot.sweep(sweep, kind="loss")
    gap = kept.history.f - himmelblau.fmin
    top = figure.axes[1].get_ylim()[1]
    assert figure.axes[1].get_ylim() == (gap.min() / 3, gap.max() * 10)
    first_above = int(np.argmax(~(blown.history.f - himmelblau.fmin <= top)))
    (triangle,) = [line for line in figure.axes[1].get_lines() if line.get_marker() == "^"]
    np.testing.assert_array_equal(triangle.get_xydata(), [[first_above, top]])
    assert figure.axes[1].texts[0].get_text() == f"off the scale from update {first_above}"


def frames(file):
    with Image.open(file) as image:
        return [frame.copy() for frame in ImageSequence.Iterator(image)]


def test_animate_writes_one_gif_frame_per_iteration(tmp_path, monkeypatch):
    short = dd.minimize(himmelblau, [0.0, 0.0], grad=himmelblau.grad, lr=0.01, max_iter=11)
    file = tmp_path / "run.gif"
    assert descend.plot.animate(himmelblau, short, path=file, fps=5) == str(file)
    gif = frames(file)
    assert len(gif) == 12 and gif[0].size == (500, 400)
    # longer runs are subsampled; the limit lives with animate, in descend.viz.animate
    monkeypatch.setattr(descend.viz.animate, "MAX_FRAMES", 8)
    long = dd.minimize(himmelblau, [0.0, 0.0], grad=himmelblau.grad, lr=0.01, max_iter=40)
    descend.plot.animate(himmelblau, short, long, path=file)
    assert len(frames(file)) == 8


def test_animate_refuses_unknown_formats(tmp_path, monkeypatch):
    gd, _ = himmelblau_runs()
    with pytest.raises(ValueError, match=r"path must end in .gif or .mp4, got '.*run.avi'"):
        descend.plot.animate(himmelblau, gd, path=tmp_path / "run.avi")
    monkeypatch.setattr(matplotlib.animation.writers, "is_available", lambda name: False)
    with pytest.raises(RuntimeError, match="needs ffmpeg on the PATH"):
        descend.plot.animate(himmelblau, gd, path=tmp_path / "run.mp4")
    assert not list(tmp_path.iterdir())


def test_every_method_differs_in_colour_and_line_style_and_legends_lie_outside():
    from descend.viz import demo
    from descend.viz._layout import legend_overlaps

    bowl = demo.PROBLEMS[2]
    runs = list(demo.run([bowl]))
    methods, results = [m for _, m, _ in runs], [r for *_, r in runs]
    assert len(methods) > 10  # more runs than matplotlib has colours
    for ax in (descend.plot.path(bowl.fun, *results), descend.plot.loss(*results)):
        drawn = [line for line in ax.get_lines() if line.get_label() in methods]
        assert [line.get_label() for line in drawn] == methods
        pairs = {(line.get_color(), line.get_linestyle()) for line in drawn}
        assert len(pairs) == len(methods)  # no two runs look alike
        assert legend_overlaps(ax.figure) == []  # outside the data, inside the figure
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert [label for label in legend if label in methods] == methods


def test_the_colour_bar_is_named_once_with_round_ticks():
    ax = descend.plot.path(rosenbrock)  # log-spaced levels
    colorbar = ax.figure.axes[1]
    assert colorbar.get_title() == "f" and colorbar.get_ylabel() == ""
    ticks = colorbar.get_yticks()
    assert len(ticks) >= 3
    np.testing.assert_array_equal(ticks, 10.0 ** np.round(np.log10(ticks)))  # powers of 10
    levels = ax.collections[0].levels
    assert levels[0] <= ticks.min() and ticks.max() <= levels[-1]
    gd, _ = himmelblau_runs()
    ticks = descend.plot.path(himmelblau, gd).figure.axes[1].get_yticks()  # even levels
    assert all(float(f"{t:.1g}") == t for t in ticks)  # 1, 2 or 5 times a power of ten
    assert len(set(np.round(np.diff(ticks), 9))) == 1


def test_the_legend_check_finds_each_kind_of_overlap_and_passes_a_clear_layout():
    from descend.viz._layout import legend_overlaps, small_texts

    def two_panels(layout):
        figure = Figure(figsize=(8, 3), layout=layout)
        for ax in figure.subplots(1, 2):
            ax.plot([0, 1], [0, 1], label="run")
            ax.set(xlabel="iteration", ylabel="f")
        return figure, figure.axes

    figure, (left, right) = two_panels(None)  # no layout engine: nothing makes room
    left.legend(loc="upper left", bbox_to_anchor=(1.1, 1.0))  # onto its neighbour
    right.legend(loc="center")  # on its own data
    assert legend_overlaps(figure) == [
        "legend 0 ('run') overlaps the data area of axes 1",
        "legend 0 ('run') overlaps the y axis labels of axes 1",
        "legend 1 ('run') overlaps the data area of axes 1",
    ]
    figure, (left, right) = two_panels("constrained")
    for ax in (left, right):
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    assert legend_overlaps(figure) == []  # constrained layout made room for both
    figure.legend(left.get_lines(), ["lost"], loc="upper right", bbox_to_anchor=(0.0, 0.0))
    assert legend_overlaps(figure) == ["legend 0 ('lost') reaches past the figure's edge"]
    left.set_title("tiny", fontsize=6)
    assert small_texts(figure, dpi=90) == ["'tiny' at 7.5 px"]  # 6 pt at 90 dpi
