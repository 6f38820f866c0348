"""The linear estimators fit Dask arrays as they fit NumPy ones: the same coefficients.

On a real ``distributed.LocalCluster`` of two one-thread workers in this process.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
from descend.models import LinearClassifier, LinearRegression, LogisticRegression  # noqa: E402

rng = np.random.default_rng(0)
X_np = rng.standard_normal((400, 5)) * [1.0, 10.0, 0.1, 1.0, 3.0] + 2.0
w_true = rng.standard_normal(5)
score = X_np @ w_true
TARGETS = {
    "regression": score + rng.standard_normal(400),
    "binary": (score + rng.standard_normal(400) > np.median(score)).astype(int),
    "three": np.digitize(score + rng.standard_normal(400), np.quantile(score, [0.33, 0.66])),
}


def blocks(a):
    return da.from_array(a, chunks=(200, *a.shape[1:]))


CASES = [
    (LinearRegression, "regression", {}),
    (LinearRegression, "regression", {"scale": False, "alpha": 0.1}),
    (LogisticRegression, "binary", {}),
    (LogisticRegression, "three", {}),
    (LogisticRegression, "binary", {"scale": False, "alpha": 1e-2}),
    (LinearClassifier, "binary", {}),
]


@pytest.mark.parametrize("model, target, settings", CASES)
def test_a_dask_fit_gives_the_numpy_coefficients(client, model, target, settings):
    y = TARGETS[target]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scale=False may warn; alike for both
        on_numpy = model(tol=1e-11, **settings).fit(X_np, y)
        on_dask = model(tol=1e-11, **settings).fit(blocks(X_np), blocks(y))
    assert on_dask.result_.status == on_numpy.result_.status
    np.testing.assert_allclose(on_dask.coef_, on_numpy.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(on_dask.intercept_, on_numpy.intercept_, rtol=0, atol=1e-10)
    if target != "regression":
        np.testing.assert_array_equal(on_dask.classes_, on_numpy.classes_)
    assert on_dask.n_features_in_ == 5


def test_persist_keeps_x_and_fits_alike(client):
    y = TARGETS["regression"]
    kept = LinearRegression(persist=True).fit(blocks(X_np), blocks(y))
    read = LinearRegression().fit(blocks(X_np), blocks(y))
    np.testing.assert_array_equal(kept.coef_, read.coef_)


def test_mini_batches_on_dask_learn_the_model(client):
    y = TARGETS["regression"]
    exact = np.linalg.lstsq(np.column_stack([X_np, np.ones(400)]), y, rcond=None)[0]
    model = LinearRegression(method="momentum", lr=0.1, batch_size=100, epochs=20, tol=None,
                             random_state=0).fit(blocks(X_np), blocks(y))  # fmt: skip
    assert model.n_iter_ == 20
    best = np.mean((X_np @ exact[:5] + exact[5] - y) ** 2)  # least squares' own
    fitted = np.mean((X_np @ model.coef_ + model.intercept_ - y) ** 2)
    assert best <= fitted < 1.05 * best


def test_early_stopping_on_dask_says_what_to_do():
    with pytest.raises(ValueError, match="early_stopping holds out rows"):
        LogisticRegression(early_stopping=True).fit(blocks(X_np), blocks(TARGETS["binary"]))


def test_partial_fit_refuses_dask_arrays_with_the_fix():
    with pytest.raises(TypeError, match=r"partial_fit takes arrays in memory.*X\.blocks\[i\]"):
        LinearRegression().partial_fit(blocks(X_np), blocks(TARGETS["regression"]))


@pytest.mark.parametrize("kind, target", [(LinearRegression, "regression"),
                                          (LogisticRegression, "three"),
                                          (LogisticRegression, "binary")])  # fmt: skip
def test_per_row_methods_answer_dask_with_dask_block_by_block(kind, target):
    model = kind().fit(X_np, TARGETS[target])
    X = blocks(X_np)
    methods = ["predict", "decision_function", "predict_proba", "predict_log_proba"]
    for name in [m for m in methods if hasattr(model, m)]:
        lazy = getattr(model, name)(X)
        assert isinstance(lazy, da.Array) and lazy.chunks[0] == X.chunks[0], name
        # BLAS may sum a row's product otherwise in a smaller block: equal to rounding.
        whole = getattr(model, name)(X_np)
        if whole.dtype.kind == "f":
            np.testing.assert_allclose(lazy.compute(), whole, rtol=1e-12, err_msg=name)
        else:
            np.testing.assert_array_equal(lazy.compute(), whole, err_msg=name)
    with pytest.raises(ValueError, match="features"):  # checked on the first row, at once
        model.predict(blocks(X_np[:, :3]))
