"""Advice that can be followed: every lr offered was tried first and works when followed;
findings that name the real cause (a linear fall, a schedule that ended); and counts of
the user's calls that include the diagnosis's own."""

import re

import numpy as np
import pytest

import descend as dd
from descend.analysis.diagnose import diagnose
from descend.analysis.diagnose.trials import (
    Trial,
    judge,
    phrase,
    quiet,
    trial_updates,
    try_halving,
)
from descend.analysis.lr_finder import find_lr

SINCOS = "sin(x)*cos(y)"
A = np.array([1.0, 10.0, 100.0])


def quad(x):
    return 0.5 * x @ (A * x)


def quad_grad(x):
    return A * x


def offered(text):
    """Every lr=<number> in the advice part of a message, with what follows it."""
    return re.findall(r"lr=([\d.e+-]+)( \(tried)?", text)


class Counted:
    """The user's f and g, counting their calls: the oracle for nfev and ngev."""

    def __init__(self, fun, grad):
        self.fun_, self.grad_, self.nf, self.ng = fun, grad, 0, 0

    def fun(self, x):
        self.nf += 1
        return self.fun_(x)

    def grad(self, x):
        self.ng += 1
        return self.grad_(x)


# ---------------------------------------------------------------- sin(x) cos(y)


@pytest.mark.parametrize(("x0", "untried"), [([0.0, 0.0], 200.0), ([0.5, 0.5], 2.5)])
def test_sin_cos_advice_offers_no_untried_lr_and_its_offer_converges(x0, untried):
    res = dd.minimize(SINCOS, x0, "gd", lr=0.01)
    assert res.status == "max_iter"
    # The message: the run ended below its start, so the adviser has no fun and tries
    # nothing; then it offers no number (before: "a larger lr (lr=2e+02, about 1/L ...)").
    advice = res.message.split("; ", 1)[1]
    assert offered(advice) == [], advice
    assert "a larger lr" in advice
    assert diagnose(res).main.lr is None
    # With fun and grad the diagnosis tries 1/L (L from Hessian-vector products along
    # the run: 1 at the minimum, though 0 at the inflection (0, 0)) and offers it.
    objective = dd.parse(SINCOS)
    finding = diagnose(res, objective, objective.grad).main
    assert finding.lr is not None and finding.lr != pytest.approx(untried)
    assert "(tried: f fell from" in finding.suggestion
    followed = dd.minimize(SINCOS, x0, "gd", lr=finding.lr)
    assert followed.status == "converged"
    np.testing.assert_allclose(followed.x, [-np.pi / 2, 0.0], atol=1e-6)


def test_the_untried_suggestions_of_before_fail_when_followed():
    # the two numbers the old advice gave: following them does not converge
    far = dd.minimize(SINCOS, [0.0, 0.0], "gd", lr=200)
    assert far.status != "converged" and abs(far.x[0]) > 1000
    bounce = dd.minimize(SINCOS, [0.5, 0.5], "gd", lr=2.5)
    assert bounce.status != "converged"
    assert dd.minimize(SINCOS, [0.5, 0.5], "gd", lr=1.0).nit <= 5


def test_a_trial_that_bounces_for_ever_is_rejected_and_one_that_converges_accepted():
    bounce = dd.minimize(SINCOS, [0.5, 0.5], "gd", lr=2.5, max_iter=100)
    verdict = judge(bounce, 2.5, maximize=False)
    assert not verdict.ok and verdict.why == "bounced without progress"
    good = judge(dd.minimize(SINCOS, [0.5, 0.5], "gd", lr=1.0, max_iter=100), 1.0, False)
    assert good.ok and good.converged
    assert good.story() == "f fell from 0.421 to -1 in 5 updates, converged"
    assert not judge(dd.minimize(quad, np.ones(3), grad=quad_grad, lr=0.05), 0.05, False).ok


def test_a_failed_lr_is_halved_and_the_one_that_works_says_what_failed():
    def attempt(lr):
        ok = lr <= 0.3
        return Trial(lr, ok, "" if ok else "diverged", 25.0, 1e-9, 40)

    found, tried = try_halving(attempt, 1.0)
    assert [t.lr for t in tried] == [1.0, 0.5, 0.25] and found is tried[-1]
    assert phrase(found, tried, "smaller") == (
        "lr=0.25 (tried: f fell from 25 to 1e-09 in 40 updates; lr=1 diverged)"
    )
    none, tried = try_halving(lambda lr: Trial(lr, False, "diverged"), 1.0)
    assert none is None and len(tried) == 5  # bounded: the candidate and four halves
    assert phrase(none, tried, "smaller") == "a smaller lr (tried lr=1 down to 0.0625: diverged)"
    assert try_halving(attempt, 1.0, floor=0.6)[1][-1].lr == 1.0  # never below the floor


def test_trials_are_bounded_by_200_updates_and_a_tenth_of_the_run():
    assert trial_updates(38) == 10  # the floor: shorter cannot tell slow divergence
    assert trial_updates(1000) == 100
    assert trial_updates(10**6) == 200


def test_without_recorded_iterates_the_advice_names_no_number():
    res = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=1.1, record_x=False)
    assert res.status == "diverged"
    assert "a smaller lr (untried: pass record_x=True" in res.message
    assert offered(res.message.split("too large: ", 1)[1]) == []


def test_a_diverged_run_offers_a_tried_lr_in_its_message():
    res = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=1.1)
    assert res.message.endswith("lr=0.5 (tried: f fell from 25 to 0 in 1 update, converged)")


def test_inside_quiet_a_failed_run_gets_no_advice_and_calls_nothing_more():
    with quiet():
        res = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=1.1)
    assert res.status == "diverged" and "too large" not in res.message
    assert (res.diagnosis_nfev, res.diagnosis_ngev) == (0, 0)


# ---------------------------------------------------------------- find_lr


def rosenbrock_limit():
    """2/L at Rosenbrock's x0 = (-1.2, 1), from the exact Hessian."""
    x, y = -1.2, 1.0
    hessian = np.array([[1200 * x**2 - 400 * y + 2, -400 * x], [-400 * x, 200.0]])
    return 2 / np.abs(np.linalg.eigvalsh(hessian)).max()


def test_find_lr_on_rosenbrock_stays_below_2_over_L_and_its_lr_does_not_oscillate():
    rosen = dd.functions.rosenbrock
    limit = rosenbrock_limit()
    assert limit == pytest.approx(0.00133, rel=1e-2)
    found = find_lr(rosen, rosen.x0)
    assert found.lr is not None and found.lr <= limit  # before: 0.00238
    assert found.curvature == pytest.approx(2 / limit, rel=1e-2)
    assert "tried:" in found.message and "stability limit" in found.message
    res = dd.minimize(rosen, rosen.x0, "gd", lr=found.lr, max_iter=20_000)
    if res.status != "converged":
        steps = np.diff(res.history.x[-12:], axis=0)
        assert (np.einsum("ij,ij->i", steps[1:], steps[:-1]) > 0).all()  # no zigzag
        assert (np.diff(res.history.f[-100:]) < 0).all()  # still falling steadily
        assert np.linalg.norm(res.x - 1) < 1e-2


def test_find_lr_takes_method_third_like_minimize_and_old_keywords_still_work():
    positional = find_lr(quad, np.ones(3), "momentum", grad=quad_grad, momentum=0.9)
    keywords = find_lr(quad, np.ones(3), grad=quad_grad, method="momentum", momentum=0.9)
    assert positional.lr == keywords.lr and positional.method == "momentum"
    assert positional.lr <= 1.9 / 100  # half the heavy-ball limit 2(1 + mu)/L
    with pytest.raises(TypeError, match=r"method third.*find_lr\(fun, x0, grad=grad\)"):
        find_lr(quad, np.ones(3), quad_grad)


def test_find_lr_scan_runs_get_no_diagnosis_of_their_own(monkeypatch):
    import descend.analysis.diagnose.advice as advice

    calls = []
    monkeypatch.setattr(advice, "diagnose", lambda *a: calls.append(a))
    find_lr(quad, np.ones(3), grad=quad_grad)
    assert calls == []  # the diverging rates of the scan were not diagnosed one by one


# ---------------------------------------------------------------- the real cause


def test_a_linear_fall_is_unbounded_below_not_slow_progress():
    res = dd.minimize("x**2 + y", [1.0, 1.0], "gd", lr=0.1)
    assert res.status == "max_iter"
    finding = diagnose(res).main
    assert finding.kind == "unbounded_below"  # before: "plateau", try momentum
    assert "f fell steadily from 2 to -99 in 1000 updates, by 0.1 per update" in finding.message
    assert "decreases without bound" in res.message and "momentum" not in res.message


def test_a_linear_rise_when_maximising_is_said_in_the_users_sign():
    res = dd.maximize("-(x**2) - y", [1.0, 1.0], "gd", lr=0.1)
    finding = diagnose(res).main
    assert finding.kind == "unbounded_below"
    assert "f rose steadily from -2 to 99" in finding.message
    assert "f increases without bound" in finding.message and "no maximum" in finding.message
    assert not re.search(r"(^|\s)-f\b", res.message)


@pytest.mark.parametrize(
    ("fun", "grad", "x0", "lr", "words"),
    [
        (lambda x: x**2, lambda x: 2 * x, 5.0, 0.1, "f rose from 25 to"),  # a millionfold
        (
            lambda x: np.exp(x[0]) - x[1] ** 2,
            lambda x: np.array([np.exp(x[0]), -2 * x[1]]),
            [0.0, 1.0],
            0.5,
            "and then to +inf",
        ),
    ],
)
def test_maximising_without_bound_speaks_of_f_rising(fun, grad, x0, lr, words):
    res = dd.maximize(fun, x0, grad=grad, lr=lr, max_iter=10_000)
    assert diagnose(res).main.kind == "unbounded_below"
    assert words in res.message and "f increases without bound" in res.message
    assert not re.search(r"(^|\s)-f\b", res.message)


@pytest.mark.parametrize(
    "run",
    [
        lambda: dd.minimize(SINCOS, [0.0, 0.0], "gd", lr=0.01),
        lambda: dd.minimize(quad, np.ones(3), "gd", grad=quad_grad, lr=1e-5),  # tiny steps
        lambda: dd.minimize(
            dd.functions.rosenbrock, dd.functions.rosenbrock.x0, "gd", lr=1e-4, max_iter=2000
        ),
    ],
)
def test_slow_bounded_runs_are_not_called_unbounded(run):
    assert "unbounded_below" not in diagnose(run()).kinds


def test_a_budget_spent_at_a_stationary_point_or_before_any_update_says_so():
    # gtol=0 runs on at x = 0, where the gradient is exactly 0: nothing is left to do.
    res = dd.minimize(lambda x: x @ x, [3.0], grad=lambda x: 2 * x, lr=0.5, gtol=0, max_iter=5)
    assert res.status == "max_iter" and np.all(res.grad == 0)
    assert res.message.endswith(
        "the gradient is exactly 0 after 5 updates; nothing to do: x is a stationary point "
        "(a gtol above 0 ends the run there)"
    )
    again = dd.minimize(lambda x: x @ x, [3.0], grad=lambda x: 2 * x, lr=0.5, gtol=1e-12)
    assert again.status == "converged" and again.nit == 1  # the suggestion, followed
    # max_iter=0: f did not fall, nor was it "still falling".
    res = dd.minimize("x**2 + y**2", [1.0, 1.0], "gd", lr=0.1, max_iter=0, gtol=0)
    assert res.message.endswith("the budget ran out before the first update; raise max_iter")


def test_a_schedule_that_ends_early_is_named_with_the_update_it_ended():
    rosen = dd.functions.rosenbrock
    schedule = dd.schedules.cosine(1e-3, steps=300, final=1e-7)
    res = dd.minimize(rosen, rosen.x0, "gd", lr=schedule, max_iter=3000)
    finding = diagnose(res).main
    assert finding.kind == "schedule_ended"
    k = int(re.search(r"the schedule ended at update (\d+)", finding.message).group(1))
    assert 250 <= k <= 300 and res.history.lr[k] <= 1e-2 * 1e-3
    assert "steps=3000" in finding.suggestion and "the schedule ended" in res.message
    stretched = dd.schedules.cosine(1e-3, steps=3000, final=1e-7)
    later = dd.minimize(rosen, rosen.x0, "gd", lr=stretched, max_iter=3000)
    assert "schedule_ended" not in diagnose(later).kinds
    assert later.fun < res.fun  # following the advice helped


def test_an_exponential_decay_that_dies_out_is_a_schedule_finding():
    rosen = dd.functions.rosenbrock
    res = dd.minimize(
        rosen, rosen.x0, "gd", lr=dd.schedules.exponential(1e-3, rate=0.99), max_iter=3000
    )
    finding = diagnose(res).main
    assert finding.kind == "schedule_ended" and "rate closer to 1" in finding.suggestion


# ---------------------------------------------------------------- honest counts


def _square(x):
    return x @ x if np.ndim(x) else x**2


def _square_grad(x):
    return 2 * x


@pytest.mark.parametrize(
    ("x0", "settings", "status", "probed"),
    [
        (5.0, dict(lr=1.1), "diverged", True),
        (np.ones(3), dict(lr=1.05, max_iter=20), "max_iter", True),  # ended above its start
        (5.0, dict(lr=1e-3, max_iter=50), "max_iter", False),  # ended below: no probes
    ],
)
def test_nfev_and_ngev_count_every_call_of_the_users_functions(x0, settings, status, probed):
    counted = Counted(_square, _square_grad)
    res = dd.minimize(counted.fun, x0, "gd", grad=counted.grad, **settings)
    assert res.status == status
    assert (res.nfev, res.ngev) == (counted.nf, counted.ng)
    assert (res.diagnosis_nfev > 0) is probed and (res.diagnosis_ngev > 0) is probed
    # the run's own share: one f and one g at x0 and after every update
    assert (res.nfev - res.diagnosis_nfev, res.ngev - res.diagnosis_ngev) == (
        res.nit + 1,
        res.nit + 1,
    )


def test_counts_with_a_numeric_gradient_include_the_diagnosiss_differences():
    calls = []
    res = dd.minimize(lambda x: calls.append(1) or x**2, 5.0, "gd", grad="numeric", lr=1.1)
    assert res.status == "diverged" and res.diagnosis_nfev > 0
    assert res.nfev == len(calls)


def test_the_diagnosis_of_a_short_diverged_run_stays_cheap():
    counted = Counted(_square, _square_grad)
    res = dd.minimize(counted.fun, 5.0, "gd", grad=counted.grad, lr=1.1)
    assert res.diagnosis_nfev <= 400 and res.diagnosis_ngev <= 200
