"""explain=True in the loop: the parts of every update, recorded without changing the run.

The parts themselves are rebuilt rule by rule in test_parts.py; here the loop's side: the
generic parts against the history, the runs' equality with and without explain, the
exports, data mode, maximising and checkpoints.
"""

import math

import numpy as np
import pytest

import descend as dd

ROSENBROCK = dd.functions.rosenbrock
LRS = {"gd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.1, "rmsprop": 1e-3,
       "adam": 0.01, "adamw": 0.01}  # fmt: skip


def explained(method, **options):
    settings = dict(grad=ROSENBROCK.grad, max_iter=60, gtol=0, lr=LRS.get(method)) | options
    return dd.minimize(ROSENBROCK, ROSENBROCK.x0, method, explain=True, **settings)


@pytest.mark.parametrize("method", sorted(dd.OPTIMIZERS))
def test_the_generic_parts_agree_with_the_history(method):
    res = explained(method)
    h = res.history
    steps = np.diff(h.x, axis=0)  # no projection: x_k = x_(k-1) + step
    n = res.nit
    for name in ("step_norm", "angle", "predicted_decrease", "actual_decrease"):
        assert h.parts(name).shape == (n,)
    # The step the rule took is the difference of the iterates, to the rounding of x + step.
    moved = np.linalg.norm(steps, axis=1)
    np.testing.assert_allclose(h.parts("step_norm"), moved, rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(h.parts("actual_decrease"), h.f[:-1] - h.f[1:])
    grads = ROSENBROCK.grad(h.x[:-1].T).T
    predicted = -np.einsum("ij,ij->i", grads, steps)
    np.testing.assert_allclose(h.parts("predicted_decrease"), predicted, rtol=1e-9, atol=1e-12)
    # Compared as cosines (arccos near 1 turns rounding into micro-degrees), where the step
    # is not lost in the rounding of x + step: the differences of x carry an error of
    # eps ||x|| / ||step|| relative, which reaches 1e-6 at the last L-BFGS steps.
    taken = moved > 1e-6 * np.linalg.norm(h.x[:-1], axis=1)
    cosine = predicted[taken] / (np.linalg.norm(grads, axis=1) * moved)[taken]
    np.testing.assert_allclose(
        np.cos(np.radians(h.parts("angle")[taken])), cosine, rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("method", sorted(dd.OPTIMIZERS))
def test_explain_changes_nothing_but_the_record(method):
    plain = dd.minimize(ROSENBROCK, ROSENBROCK.x0, method, grad=ROSENBROCK.grad, max_iter=60,
                        gtol=0, lr=LRS.get(method))  # fmt: skip
    res = explained(method)
    np.testing.assert_array_equal(res.history.x, plain.history.x)
    np.testing.assert_array_equal(res.history.f, plain.history.f)
    assert (res.nfev, res.ngev, res.status) == (plain.nfev, plain.ngev, plain.status)
    assert plain.history.explanation is None


def test_gd_and_adam_updates_rebuild_from_their_parts():
    h = explained("gd").history
    np.testing.assert_array_equal(h.x[1:], h.x[:-1] - h.parts("lr")[:, None] * h.parts("grad"))
    h = explained("adam").history
    m_hat = h.parts("first_moment") / h.parts("bias_correction1")[:, None]
    np.testing.assert_allclose(
        h.x[1:], h.x[:-1] - h.parts("effective_lr") * m_hat, rtol=1e-15, atol=0
    )
    v_hat = h.parts("second_moment") / h.parts("bias_correction2")[:, None]
    np.testing.assert_allclose(h.parts("effective_lr"), 0.01 / (np.sqrt(v_hat) + 1e-8), rtol=1e-14)


def test_momentum_velocity_follows_its_equation_through_the_loop():
    h = explained("momentum", momentum=0.9).history
    v, g, lr = h.parts("velocity"), h.parts("grad"), h.parts("lr")
    np.testing.assert_array_equal(v[0], -lr[0] * g[0])
    np.testing.assert_array_equal(v[1:], 0.9 * v[:-1] - lr[1:, None] * g[1:])


def test_a_line_search_records_its_trials():
    h = explained("armijo", lr=1.0).history
    trial_f = h.parts("trial_f")
    assert trial_f.shape[0] == 60 and trial_f.shape[1] >= 2
    tried = (~np.isnan(trial_f)).sum(axis=1)
    # The accepted trial is the last one and is the next point's f.
    last = trial_f[np.arange(60), tried - 1]
    np.testing.assert_array_equal(last, h.f[1:])


def test_parts_are_exported_by_to_frame_and_to_csv(tmp_path):
    pytest.importorskip("pandas")
    res = explained("momentum")
    frame = res.history.to_frame()
    assert {"velocity_0", "velocity_1", "angle", "actual_decrease"} <= set(frame.columns)
    assert math.isnan(frame["angle"].iloc[0])
    velocity = res.history.parts("velocity")
    np.testing.assert_array_equal(frame["velocity_1"].to_numpy()[1:], velocity[:, 1])
    np.testing.assert_array_equal(frame["lr"].to_numpy(), res.history.lr)  # not overwritten
    path = tmp_path / "run.csv"
    res.history.to_csv(path)
    header = path.read_text().splitlines()[0].split(",")
    assert header[:5] == ["iteration", "f", "grad_norm", "lr", "time"] and "velocity_0" in header


def test_a_history_without_parts_says_how_to_get_them():
    res = dd.minimize("x**2", 1.0, lr=0.1, max_iter=3)
    with pytest.raises(ValueError, match="explain=True"):
        res.history.parts("lr")
    with pytest.raises(ValueError, match=r"velocity.*it has"):
        explained("gd").history.parts("velocity")


def test_mini_batch_parts_are_per_update_with_the_batch_decrease():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -1.0, 2.0])

    def loss(w, X, y):
        return 0.5 * np.mean((X @ w - y) ** 2)

    def grad(w, X, y):
        return X.T @ (X @ w - y) / len(y)

    settings = dict(grad=grad, data=(X, y), batch_size=8, epochs=3, seed=0, lr=0.05)
    res = dd.minimize(loss, np.zeros(3), "momentum", explain=True, **settings)
    plain = dd.minimize(loss, np.zeros(3), "momentum", **settings)
    np.testing.assert_array_equal(res.history.x, plain.history.x)
    assert res.nit == 15 and res.history.parts("velocity").shape == (15, 3)
    assert np.all(np.isfinite(res.history.parts("actual_decrease")))
    frame_columns = set(res.history._columns())  # parts of batch updates are not per epoch
    assert "velocity_0" not in frame_columns


def test_maximising_records_the_parts_of_the_minimised_negation():
    res = dd.minimize("-(x - 2)**2", 0.0, "gd", lr=0.25, max_iter=2, gtol=0, maximize=True,
                      explain=True)  # fmt: skip
    np.testing.assert_array_equal(res.history.parts("grad")[:, 0], [-4.0, -2.0])
    # -f falls from 4 to 1, then to 0.25.
    np.testing.assert_array_equal(res.history.parts("actual_decrease"), [3.0, 0.75])


def test_explain_survives_an_interrupted_and_resumed_run(tmp_path):
    path = tmp_path / "run.npz"
    full = explained("adam", max_iter=40)
    calls = []

    def stop_at_17(info):
        calls.append(info.nit)
        if info.nit == 17:
            raise KeyboardInterrupt

    first = explained("adam", max_iter=40, checkpoint=path, callback=stop_at_17)
    assert first.status == "interrupted"
    resumed = explained("adam", max_iter=40, checkpoint=path, resume=True)
    for name in full.history.explanation:
        np.testing.assert_array_equal(resumed.history.parts(name), full.history.parts(name))
    with pytest.raises(ValueError, match="explain"):  # parts from the start or not at all
        dd.minimize(ROSENBROCK, ROSENBROCK.x0, "adam", grad=ROSENBROCK.grad, lr=0.01,
                    max_iter=40, gtol=0, checkpoint=path, resume=True)  # fmt: skip


def test_explain_must_be_a_bool():
    with pytest.raises((TypeError, ValueError), match="explain"):
        dd.minimize("x**2", 1.0, explain="yes")
