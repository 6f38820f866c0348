"""Checkpoints: an interrupted and resumed run ends bit for bit where an uninterrupted one does."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import descend as dd

RNG = np.random.default_rng(0)
X = RNG.standard_normal((23, 3))
Y = X @ np.array([1.0, -2.0, 3.0]) + 0.1 * RNG.standard_normal(23)
STEP_SIZES = {"adagrad": 0.3, "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05}


def mse(w, X, y):
    return 0.5 * np.mean((X @ w - y) ** 2)


def mse_grad(w, X, y):
    return X.T @ (X @ w - y) / len(y)


class Interrupt:
    """fun or grad that raises KeyboardInterrupt on its n-th call."""

    def __init__(self, function, n):
        self.function, self.n, self.calls = function, n, 0

    def __call__(self, *args):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return self.function(*args)


def run(method, batch_size, path=None, fun=mse, grad=mse_grad, **options):
    settings = dict(
        lr=STEP_SIZES.get(method, 0.05), gtol=0, data=(X, Y), batch_size=batch_size,
        epochs=6, seed=3, checkpoint=path,
    ) | options  # fmt: skip
    return dd.minimize(fun, np.zeros(3), method, grad=grad, **settings)


def assert_same_run(resumed, full):
    np.testing.assert_array_equal(resumed.x, full.x)
    assert (resumed.nit, resumed.nepoch, resumed.status) == (full.nit, full.nepoch, full.status)
    assert resumed.fun == full.fun
    for name in ("f", "grad_norm", "lr", "x"):
        np.testing.assert_array_equal(getattr(resumed.history, name), getattr(full.history, name))


# Every optimizer in every batching it accepts (L-BFGS takes the full batch only).
RUNS = [
    pytest.param(method, size, id=f"{method}-{name}")
    for method in sorted(dd.OPTIMIZERS)
    for size, name in ((None, "batch"), (1, "single"), (5, "mini"))
    if size is None or not dd.OPTIMIZERS[method].full_batch_only
]


@pytest.mark.parametrize(("method", "batch_size"), RUNS)
def test_interrupted_then_resumed_equals_uninterrupted(method, batch_size, tmp_path):
    path = tmp_path / "run.ckpt"
    full = run(method, batch_size)
    # Interrupt in the gradient partway through the third epoch (mid-epoch for mini-batches).
    calls_per_epoch = 1 if batch_size is None else -(-23 // batch_size) + 1
    stop = 2 * calls_per_epoch + max(calls_per_epoch // 2, 1) + 1
    part = run(method, batch_size, path, grad=Interrupt(mse_grad, stop), checkpoint_every=3)
    assert part.status == "interrupted" and str(path) in part.message
    assert part.nit < full.nit and path.exists()
    resumed = run(method, batch_size, path, resume=True)
    assert_same_run(resumed, full)


@pytest.mark.parametrize("where", ["fun", "callback"])
def test_an_interrupt_in_fun_or_the_callback_also_saves_the_run(where, tmp_path):
    path = tmp_path / "run.ckpt"
    full = run("momentum", 4)
    if where == "fun":  # fun is called once per epoch, on all the data
        part = run("momentum", 4, path, fun=Interrupt(mse, 4))
    else:
        part = run("momentum", 4, path, callback=Interrupt(lambda info: None, 3))
    assert part.status == "interrupted" and 0 < part.nit < full.nit
    assert_same_run(run("momentum", 4, path, resume=True), full)


def test_interrupted_result_reports_f_at_the_point_returned(tmp_path):
    part = run("gd", 2, tmp_path / "run.ckpt", grad=Interrupt(mse_grad, 20))
    assert part.status == "interrupted"
    assert part.fun == mse(part.x, X, Y)


def test_resume_from_the_last_periodic_checkpoint_after_a_crash(tmp_path):
    path = tmp_path / "run.ckpt"
    full = run("adam", 5)

    def crashing_grad(w, X, y):
        crashing_grad.calls += 1
        if crashing_grad.calls == 23:
            raise RuntimeError("power cut")
        return mse_grad(w, X, y)

    crashing_grad.calls = 0
    with pytest.raises(RuntimeError, match="power cut"):
        run("adam", 5, path, grad=crashing_grad, checkpoint_every=4)
    with np.load(path, allow_pickle=False) as saved:
        meta = json.loads(str(saved["meta"]))
    assert meta["nit"] == 16 and meta["status"] is None  # the last save before the crash
    assert_same_run(run("adam", 5, path, resume=True), full)


def test_runs_without_data_resume_exactly(tmp_path):
    path = tmp_path / "run.ckpt"
    rosen = dd.functions.rosenbrock
    full = dd.minimize(rosen, rosen.x0, "nesterov", lr=1e-3, momentum=0.9, max_iter=300)
    part = dd.minimize(rosen, rosen.x0, "nesterov", grad=Interrupt(rosen.grad, 120), lr=1e-3,
                       momentum=0.9, max_iter=300, checkpoint=path)  # fmt: skip
    assert part.status == "interrupted" and part.nit == 118
    resumed = dd.minimize(rosen, rosen.x0, "nesterov", lr=1e-3, momentum=0.9, max_iter=300,
                          checkpoint=path, resume=True)  # fmt: skip
    np.testing.assert_array_equal(resumed.x, full.x)
    np.testing.assert_array_equal(resumed.history.x, full.history.x)


def test_a_finished_run_is_returned_as_it_was(tmp_path):
    path = tmp_path / "run.ckpt"
    done = run("bb", None, path, gtol=1e-10, epochs=100)
    assert done.status == "converged"
    again = run("bb", None, path, gtol=1e-10, epochs=100, resume=True)
    np.testing.assert_array_equal(again.x, done.x)
    assert (again.nit, again.status, again.ngev) == (done.nit, done.status, done.ngev)


def test_a_budget_can_be_extended_on_resume(tmp_path):
    path = tmp_path / "run.ckpt"
    run("momentum", 5, path, epochs=3)
    assert_same_run(run("momentum", 5, path, epochs=6, resume=True), run("momentum", 5))


def test_resume_without_a_checkpoint_file_starts_afresh(tmp_path):
    fresh = run("gd", 5, tmp_path / "new.ckpt", resume=True)
    assert_same_run(fresh, run("gd", 5))
    assert (tmp_path / "new.ckpt").exists()


def test_a_generator_of_another_kind_is_restored_too(tmp_path):
    def seed():
        return np.random.Generator(np.random.MT19937(5))

    path = tmp_path / "run.ckpt"
    full = run("gd", 1, seed=seed())
    run("gd", 1, path, seed=seed(), grad=Interrupt(mse_grad, 40))
    assert_same_run(run("gd", 1, path, seed=seed(), resume=True), full)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (dict(method="gd"), "method was 'momentum', now 'gd'"),
        (dict(lr=0.1), "lr was 0.05, now 0.1"),
        (dict(momentum=0.5), "momentum was 0.9, now 0.5"),
        (dict(batch_size=4), "batch_size was 5, now 4"),
        (dict(shuffle=False), "shuffle was True, now False"),
        (dict(sampling="replacement"), "sampling was None, now 'replacement'"),
        (dict(data=(X[:20], Y[:20])), "data was"),
        (dict(x0=np.zeros(4), data=(np.c_[X, X[:, 0]], Y)), "shape was [3], now [4]"),
        (dict(maximize=True), "maximize was False, now True"),
    ],
)
def test_resuming_another_problem_is_refused(change, words, tmp_path):
    path = tmp_path / "run.ckpt"
    base = dict(lr=0.05, gtol=0, data=(X, Y), batch_size=5, epochs=2, seed=3, checkpoint=path)
    dd.minimize(mse, np.zeros(3), "momentum", grad=mse_grad, **base)
    options = base | {"resume": True} | change
    x0, method = options.pop("x0", np.zeros(3)), options.pop("method", "momentum")
    with pytest.raises(ValueError, match="belongs to a different problem") as raised:
        dd.minimize(mse, x0, method, grad=mse_grad, **options)
    assert words in str(raised.value)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "run.ckpt"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a descend checkpoint"):
        run("gd", 5, path, resume=True)


def test_checkpoint_settings_are_checked_before_any_work(tmp_path):
    with pytest.raises(TypeError, match="checkpoint_every needs checkpoint=path"):
        run("gd", 5, checkpoint_every=3)
    with pytest.raises(TypeError, match="resume needs checkpoint=path"):
        run("gd", 5, resume=True)
    with pytest.raises(ValueError, match="does not exist"):
        run("gd", 5, tmp_path / "missing" / "run.ckpt")
    with pytest.raises(ValueError, match="checkpoint_every must be an integer >= 1"):
        run("gd", 5, tmp_path / "run.ckpt", checkpoint_every=0)


def test_the_file_loads_without_pickle_and_leaves_no_temporary_behind(tmp_path):
    path = tmp_path / "run.ckpt"
    run("adam", 5, path, checkpoint_every=2)
    with np.load(path, allow_pickle=False) as saved:
        meta = json.loads(str(saved["meta"]))
        assert saved["x"].shape == (3,) and saved["state.m"].shape == (3,)
        assert len(saved["history"]) == 4 * 7 and saved["order"].shape == (23,)
    assert meta["nepoch"] == 6 and meta["status"] == "max_iter"
    assert sorted(os.listdir(tmp_path)) == ["run.ckpt"]


KILLED_RUN = """
import numpy as np, descend as dd
x0 = np.zeros(2_000_000)  # tens of MB a save, so the kill often lands mid-write
dd.minimize(lambda x: 0.5 * x @ x, x0, "adam", grad=lambda x: x - 1.0, lr=1e-3,
            max_iter=10**6, gtol=0, checkpoint={path!r}, checkpoint_every=1)
"""


def test_sigkill_while_checkpointing_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    script = textwrap.dedent(KILLED_RUN).format(path=str(path))
    for delay in (0.0, 0.05, 0.13):
        process = subprocess.Popen([sys.executable, "-c", script])
        try:
            deadline = time.monotonic() + 60
            while not path.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(delay)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(str(saved["meta"]))
            x, nit = saved["x"], meta["nit"]
        assert nit >= 1 and x.shape == (2_000_000,)
        # A whole iterate: every coordinate took the same Adam steps of at most lr each.
        assert (x == x[0]).all() and 0.9 * nit * 1e-3 < x[0] <= nit * 1e-3
        resumed = dd.minimize(lambda x: 0.5 * x @ x, np.zeros(2_000_000), "adam",
                              grad=lambda x: x - 1.0, lr=1e-3, max_iter=nit + 1, gtol=0,
                              checkpoint=path, resume=True)  # fmt: skip
        assert resumed.nit == nit + 1


def test_a_run_resumes_under_another_number_of_blas_threads(tmp_path):
    # f at the saved x, summed by BLAS in another order, differs from the saved f in its last
    # bits: the same objective all the same (this failed when f had to match bit for bit).
    from threadpoolctl import threadpool_limits

    x0 = np.full(2_000_000, 0.7)
    with threadpool_limits(1):
        one_thread = 0.5 * x0 @ x0
    if 0.5 * x0 @ x0 == one_thread:
        pytest.skip("BLAS sums this dot in one order whatever its threads here")
    path = tmp_path / "run.npz"

    def options(max_iter):
        return dict(grad=lambda x: x - 1.0, lr=1e-3, max_iter=max_iter, gtol=0, checkpoint=path)

    dd.minimize(lambda x: 0.5 * x @ x, x0, "adam", **options(2))
    with threadpool_limits(1):
        resumed = dd.minimize(lambda x: 0.5 * x @ x, x0, "adam", resume=True, **options(3))
    assert resumed.nit == 3 and resumed.history.f.shape == (4,)


@pytest.mark.parametrize(
    ("where", "words"),
    [("/proc/run.npz", "cannot be written"), ("folder", "is a folder")],
)
def test_a_checkpoint_that_cannot_be_written_is_refused_before_any_work(where, words, tmp_path):
    path = tmp_path if where == "folder" else where
    calls = []

    def fun(w, X, y):
        calls.append(w)
        return mse(w, X, y)

    with pytest.raises(ValueError, match=f"checkpoint .*{words}"):
        run("gd", 4, path, fun=fun)
    assert calls == []


# Every 5 updates of 6-batch epochs: the failing save falls inside an epoch.
@pytest.mark.parametrize(("batch_size", "every"), [(None, 6), (4, 6), (4, 5)])
def test_a_save_that_fails_mid_run_returns_the_result_so_far(batch_size, every, tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    path = folder / "run.npz"

    def remove_the_folder(info):
        if info.nepoch == 2 and folder.exists():
            for file in folder.iterdir():
                file.unlink()
            folder.rmdir()

    res = run("gd", batch_size, path, checkpoint_every=every, callback=remove_the_folder,
              epochs=50)  # fmt: skip
    assert res.status == "stopped" and 2 <= res.nepoch < 50 and res.nit <= 4 * 6 + every
    assert "saving the checkpoint" in res.message and "the result so far is returned" in res.message
    assert np.isfinite(res.fun) and res.fun == pytest.approx(mse(res.x, X, Y), rel=1e-15)


def test_a_schedule_is_checked_over_every_update_of_data_mode_before_any_work():
    rng = np.random.default_rng(0)
    X1, y1 = rng.standard_normal((100, 3)), rng.standard_normal(100)
    calls = []

    def grad(w, X, y):
        calls.append(w)
        return mse_grad(w, X, y)

    with pytest.raises(ValueError, match=r"lr schedule .* at t=\d+"):
        dd.minimize(mse, np.zeros(3), "gd", grad=grad, lr=dd.schedules.exponential(0.1, 0.5),
                    data=(X1, y1), batch_size=1, epochs=100)  # fmt: skip
    assert calls == []


def _tampered(path, change):
    """The checkpoint at ``path`` rewritten with ``change(arrays, meta)`` applied."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(arrays, meta)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


TAMPERINGS = {
    "empty file": None,
    "x missing": lambda a, m: a.pop("x"),
    "x of another size": lambda a, m: a.update(x=np.zeros(7)),
    "x as text": lambda a, m: a.update(x=np.array(["a", "b", "c"])),
    "nit missing": lambda a, m: m.pop("nit"),
    "nit as text": lambda a, m: m.update(nit="five"),
    "negative cursor": lambda a, m: m.update(cursor=-1),
    "f as a list": lambda a, m: m.update(f=[1.0]),
    "state field missing": lambda a, m: m["state"].clear(),
    "meta a list": lambda a, m: (m.clear(), m.update(format=None)),
    "history ragged": lambda a, m: a.update(history=np.zeros(5)),
    "problem missing": lambda a, m: m.pop("problem"),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_every_malformed_checkpoint_is_one_value_error(how, tmp_path):
    path = tmp_path / "run.npz"
    run("gd", 4, path)
    change = TAMPERINGS[how]
    if change is None:
        path.write_bytes(b"")
    else:
        _tampered(path, change)
    with pytest.raises(ValueError, match="is not a descend checkpoint"):
        run("gd", 4, path, resume=True)


@pytest.mark.parametrize("batch_size", [None, 4])
def test_resuming_with_another_objective_of_the_same_shape_is_refused(batch_size, tmp_path):
    path = tmp_path / "run.npz"
    run("gd", batch_size, path, epochs=2)

    def other(w, X, y):
        return 2.0 * mse(w, X, y)

    with pytest.raises(ValueError, match=r"another objective: f at its saved x is .* now and was"):
        run("gd", batch_size, path, fun=other, epochs=4, resume=True)
    resumed = run("gd", batch_size, path, epochs=4, resume=True)  # the same one resumes
    assert_same_run(resumed, run("gd", batch_size, epochs=4))
    assert resumed.nfev == run("gd", batch_size, epochs=4).nfev  # the check is not counted
