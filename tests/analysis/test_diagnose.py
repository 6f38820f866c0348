"""diagnose and find_lr against independent truth: closed-form stability limits and
runs whose cause of failure is known by construction."""

import re

import numpy as np
import pytest

import descend as dd
from descend.analysis.diagnose import Diagnosis, Finding, diagnose
from descend.analysis.lr_finder import LRFinderResult, find_lr

A = np.array([1.0, 10.0, 100.0])


def quad(x):
    return 0.5 * x @ (A * x)  # f = x'Ax/2, A = diag(1, 10, 100): stable for lr < 2/100


def quad_grad(x):
    return A * x


def square(x):
    return x**2


def square_grad(x):
    return 2 * x


def sphere(x):
    return float(np.sum(x**2))


def number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return float(match.group(1))


# ---------------------------------------------------------------- find_lr


def test_find_lr_on_diag_1_10_100_suggests_below_the_stability_limit_0_02():
    found = find_lr(quad, np.ones(3), grad=quad_grad)
    assert 0.002 < found.lr < 0.02
    assert isinstance(found, LRFinderResult)
    assert len(found.lrs) == len(found.losses) == len(found.stable) == len(found.diverged)
    assert np.all(np.diff(found.lrs) > 0)
    # independent truth: every lr below 2/L decreases f, every lr well above it does not
    assert found.stable[found.lrs < 0.019].all()
    assert not found.stable[found.lrs > 0.021].any()
    assert re.search(r"lr=0\.00\d+", repr(found))


def test_find_lr_is_not_fooled_by_a_tiny_stiff_component():
    # the unstable direction starts 1000 times smaller, so f falls at first even at lr > 2/L
    found = find_lr(quad, [1.0, 1.0, 1e-3], grad=quad_grad)
    assert 0.002 < found.lr < 0.02


def test_find_lr_with_momentum_stays_below_its_limit_2_times_1_plus_mu_over_L():
    found = find_lr(quad, np.ones(3), grad=quad_grad, method="momentum", momentum=0.9)
    assert 0.002 < found.lr < 2 * 1.9 / 100


def test_find_lr_finds_nothing_with_a_gradient_of_the_wrong_sign():
    found = find_lr(quad, np.ones(3), grad=lambda x: -quad_grad(x))
    assert found.lr is None
    assert not found.stable.any()
    assert "check the gradient" in found.message


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(lr_min=1.0, lr_max=0.1), ValueError, r"lr_min must be below lr_max.*swap"),
        (dict(lr_min=-1e-3), ValueError, r"lr_min must be a finite number > 0, got -0.001"),
        (dict(lr_max=0.0), ValueError, r"lr_max must be a finite number > 0, got 0.0"),
        (dict(num=2), ValueError, r"num must be an integer >= 3, got 2"),
        (dict(steps=0), ValueError, r"steps must be an integer >= 1, got 0"),
        (dict(lr=0.1), TypeError, r"find_lr sets lr itself.*lr_min and lr_max"),
        (dict(max_iter=5), TypeError, r"find_lr sets max_iter itself.*steps"),
    ],
)
def test_find_lr_rejects_bad_arguments_in_words(kwargs, error, words):
    with pytest.raises(error, match=words):
        find_lr(quad, np.ones(3), grad=quad_grad, **kwargs)


# ---------------------------------------------------------------- learning rate too large


def test_x_squared_at_lr_1_1_diverges_and_the_finding_says_lr_below_1():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=1.1)
    assert res.status == "diverged"
    finding = diagnose(res, square, square_grad).main
    assert finding.kind == "lr_too_large"
    assert finding.lr < 1.0 and finding.lr == pytest.approx(0.5)  # 1/L with L = 2
    assert "(tried: f fell from 25 to 0 in 1 update, converged)" in finding.suggestion
    assert number(r"L ≈ ([\d.]+)", finding.message) == pytest.approx(2.0)
    assert number(r"lr < 2/L = ([\d.]+)", finding.message) == pytest.approx(1.0)
    assert number(r"lr=([\d.]+) is too large", finding.message) == 1.1


def test_with_fun_and_grad_the_curvature_comes_from_hessian_vector_products():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=1.1)
    finding = diagnose(res, square, square_grad).main
    assert finding.kind == "lr_too_large"
    assert "correct gradient" in finding.message and "Hessian-vector" in finding.message
    assert finding.lr == pytest.approx(0.5, rel=1e-4)


def test_hessian_vector_power_iteration_finds_the_largest_eigenvalue_100():
    res = dd.minimize(quad, np.ones(3), grad=quad_grad, lr=0.025, max_iter=200)
    finding = diagnose(res, quad, quad_grad).main
    assert finding.kind == "lr_too_large"
    assert number(r"L ≈ ([\d.]+)", finding.message) == pytest.approx(100, rel=1e-2)
    assert finding.lr == pytest.approx(0.01, rel=1e-2)


@pytest.mark.parametrize(
    ("method", "limit"),
    [("momentum", 2 * (1 + 0.5) / 2), ("nesterov", 2 * (1 + 0.5) / (1 + 2 * 0.5) / 2)],
)
def test_momentum_methods_get_their_own_stability_limit(method, limit):
    # heavy ball on L x^2/2 is stable iff lr L < 2(1 + mu); Nesterov iff lr L < 2(1+mu)/(1+2mu)
    res = dd.minimize(square, 5.0, grad=square_grad, method=method, momentum=0.5, lr=1.6)
    finding = diagnose(res, square, square_grad).main
    assert res.status == "diverged" and finding.kind == "lr_too_large"
    assert number(r"= ([\d.]+)$", finding.message) == pytest.approx(limit)
    assert finding.lr == pytest.approx(limit / 2, rel=1e-2)  # as printed, 3 digits
    followed = dd.minimize(square, 5.0, method, grad=square_grad, momentum=0.5, lr=finding.lr)
    assert followed.status == "converged"


def test_maximising_is_diagnosed_on_minus_f():
    res = dd.maximize(lambda x: -(x**2), 5.0, grad=lambda x: -2 * x, lr=1.1)
    finding = diagnose(res, lambda x: -(x**2), lambda x: -2 * x, maximize=True).main
    assert finding.kind == "lr_too_large" and finding.lr == pytest.approx(0.5)
    assert "-f rose" in finding.message
    assert "tried: f rose from -25 to 0 in 1 update" in finding.suggestion  # the user's f


# ---------------------------------------------------------------- a wrong gradient


def test_a_gradient_with_the_wrong_sign_makes_f_rise_and_is_named():
    wrong = lambda x: -2 * x  # noqa: E731
    res = dd.minimize(sphere, np.ones(3), grad=wrong, lr=0.1, max_iter=20)
    assert res.history.f[1] > res.history.f[0]
    diagnosis = diagnose(res, sphere, wrong)
    assert diagnosis.main.kind == "wrong_gradient_sign"
    assert re.search(r"wrong sign.*-∇f", diagnosis.main.message)
    assert "negate" in diagnosis.main.suggestion
    assert diagnosis.kinds == ("wrong_gradient_sign",)  # the cause, not its consequences


def test_without_fun_a_rise_at_a_small_lr_points_at_the_gradient():
    res = dd.minimize(sphere, np.ones(3), grad=lambda x: -2 * x, lr=0.1, max_iter=20)
    finding = diagnose(res).main
    assert finding.kind == "f_rising"
    assert "gradient is probably wrong" in finding.message
    assert "check_grad" in finding.suggestion


def test_a_gradient_ten_times_too_large_is_a_scale_finding():
    scaled = lambda x: 20 * x  # noqa: E731
    res = dd.minimize(sphere, np.ones(3), grad=scaled, lr=0.1, max_iter=50)
    finding = diagnose(res, sphere, scaled).main
    assert finding.kind == "gradient_scale"
    assert number(r"factor of about ([\d.]+)", finding.message) == pytest.approx(10, rel=1e-3)
    assert number(r"divide grad by ([\d.]+)", finding.suggestion) == pytest.approx(10, rel=1e-3)


def test_one_wrong_component_is_a_mismatch_naming_it():
    fun = lambda x: x[0] ** 2 + 3 * x[1] ** 2  # noqa: E731
    grad = lambda x: np.array([2 * x[0], 3 * x[1]])  # second component should be 6 x1  # noqa: E731
    res = dd.minimize(fun, [1.0, 2.0], grad=grad, lr=0.1)
    finding = diagnose(res, fun, grad).main
    assert finding.kind == "gradient_mismatch"
    assert re.search(r"component 1 \(grad 6, finite differences 12\)", finding.message)


def test_a_correct_gradient_adds_no_gradient_finding():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=0.1)
    assert diagnose(res, square, square_grad).kinds == ("converged",)


# ---------------------------------------------------------------- oscillation, plateau


def test_lr_just_under_2_over_L_oscillates():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=0.99, max_iter=100)
    assert res.status == "max_iter"
    finding = diagnose(res, square, square_grad).main
    assert finding.kind == "oscillation"
    assert re.search(r"reversed direction in 10 of the last 10 updates", finding.message)
    assert number(r"2/L = ([\d.]+)", finding.message) == pytest.approx(1.0)
    assert finding.lr == pytest.approx(0.5)
    assert diagnose(res).main.lr is None  # without fun no trial, so no number


def test_lr_exactly_2_over_L_bounces_forever_and_is_called_oscillation():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=1.0, max_iter=30)
    assert diagnose(res).main.kind == "oscillation"


def test_without_iterates_oscillation_is_read_from_f_rising_and_falling():
    # f = x^2 + 0.3 x^3 is steeper for x > 0: at lr = 1 = 2/L the iterates bounce across
    # 0 and f alternates between the two sides, one update up, the next down
    res = dd.minimize(
        lambda x: x**2 + 0.3 * x**3,
        0.5,
        grad=lambda x: 2 * x + 0.9 * x**2,
        lr=1.0,
        max_iter=100,
        record_x=False,
    )
    changes = np.diff(res.history.f[-12:])
    assert (changes[1:] * changes[:-1] < 0).all()
    finding = diagnose(res).main
    assert finding.kind == "oscillation"
    assert "f alternately rose and fell in 10 of the last 10 updates" in finding.message


def test_rosenbrock_with_a_tiny_lr_is_a_plateau_with_the_usual_cures():
    rosen = dd.functions.rosenbrock
    res = dd.minimize(rosen, rosen.x0, "gd", grad=rosen.grad, lr=1e-4, max_iter=200)
    finding = diagnose(res).main
    assert finding.kind == "plateau"
    for cure in ("lbfgs", "momentum", "adam", "armijo"):
        assert cure in finding.suggestion
    assert number(r"still ([\d.]+)", finding.message) == pytest.approx(
        res.history.grad_norm[-1], rel=1e-2
    )
    assert finding.lr is None and "a larger lr" in finding.suggestion  # untried: no number
    # lr=1e-4 is far below 1/L (L ~ 1.5e3 at x0): with fun, a larger lr is tried and offered
    tried = diagnose(res, rosen, rosen.grad).main
    assert tried.lr is not None and 1e-4 < tried.lr <= 1 / 1500
    assert "tried: f fell from 24.2" in tried.suggestion


# ---------------------------------------------------------------- NaN, converged, endings


def test_a_kink_gives_a_nan_gradient_and_an_epsilon_guard():
    res = dd.minimize(lambda x: np.sqrt(x**2), 1.0, grad=lambda x: x / np.sqrt(x**2), lr=0.5)
    assert res.status == "diverged"
    finding = diagnose(res).main
    assert finding.kind == "nan_at_nondifferentiable_point"
    assert re.search(r"gradient became nan at update 2 \(x = \[0\.\]\)", finding.message)
    assert "sqrt(x**2 + 1e-12)" in finding.suggestion


def test_stepping_out_of_sqrts_domain_gives_a_nan_f_and_a_guard():
    res = dd.minimize(np.sqrt, 1.0, grad=lambda x: 0.5 / np.sqrt(x), lr=0.5)
    finding = diagnose(res).main
    assert finding.kind == "nan_at_nondifferentiable_point"
    assert re.search(r"f became nan at update \d+ \(x = \[-", finding.message)
    assert "np.maximum" in finding.suggestion and "projections" in finding.suggestion


def test_a_converged_run_says_so_and_nothing_else():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=0.1)
    diagnosis = diagnose(res)
    assert diagnosis.kinds == ("converged",)
    assert re.search(
        r"gradient norm [\d.e-]+ <= gtol=1e-08 after 93 updates", diagnosis.main.message
    )
    assert diagnosis.main.suggestion == "nothing to do"


def test_a_fast_run_cut_short_by_max_iter_says_raise_max_iter():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=0.1, max_iter=10)
    finding = diagnose(res).main
    assert finding.kind == "max_iter" and "raise max_iter" in finding.suggestion


def test_a_callback_stop_is_reported_as_stopped():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=0.1, callback=lambda info: info.nit == 3)
    assert diagnose(res).main.kind == "stopped"


# ---------------------------------------------------------------- the objects


def test_diagnosis_lists_findings_numbered_and_main_first():
    res = dd.minimize(square, 5.0, grad=square_grad, lr=1.1)
    diagnosis = diagnose(res)
    assert isinstance(diagnosis, Diagnosis) and isinstance(diagnosis.main, Finding)
    assert diagnosis.main is diagnosis[0] and list(diagnosis) == list(diagnosis.findings)
    assert str(diagnosis).startswith("1. lr_too_large: lr=1.1 is too large")
    assert repr(diagnosis) == "Diagnosis(lr_too_large)"
    assert str(diagnosis.main).endswith("; " + diagnosis.main.suggestion)


def test_diagnose_rejects_what_is_not_a_result_in_words():
    with pytest.raises(TypeError, match=r"result must be the Result that descend.minimize"):
        diagnose({"x": 1.0})
    res = dd.minimize(square, 5.0, grad=square_grad, lr=0.1)
    with pytest.raises(TypeError, match=r"fun must be callable.*got 3"):
        diagnose(res, fun=3)
    with pytest.raises(TypeError, match=r"grad must be callable, 'numeric' or None, got 'exact'"):
        diagnose(res, square, "exact")


def test_f_falling_to_minus_infinity_is_unbounded_below():
    res = dd.minimize(
        lambda x: -np.exp(x[0]) + x[1] ** 2,
        [0.0, 1.0],
        grad=lambda x: np.array([-np.exp(x[0]), 2 * x[1]]),
        lr=0.5,
        max_iter=10_000,
    )
    assert res.status == "diverged"
    assert diagnose(res).main.kind == "unbounded_below"
    assert "decreases without bound" in res.message


def test_f_falling_a_millionfold_is_unbounded_below():
    res = dd.minimize(lambda x: -(x**2), 5.0, grad=lambda x: -2 * x, lr=0.1, max_iter=1000)
    assert diagnose(res).main.kind == "unbounded_below"
    assert "decreases without bound" in res.message
