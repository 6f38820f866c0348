"""Linear models as scikit-learn estimators, each fitted by :func:`descend.minimize`.

Every model minimises a mean loss over the samples plus an L2 penalty on the weights,

    L(W, b) = (1/n) sum_i loss(z_i, t_i) + (alpha/2) ||W||^2,    z_i = W x_i + b,

on one flat vector ``x = [W.ravel(), b]`` (the intercepts last, and only with
``fit_intercept``). The models differ only in the loss and in how a score ``z``
becomes a prediction:

- :class:`LinearRegression`: loss = ||z - y||^2 / 2; predict z.
- :class:`LogisticRegression`: binary, loss = log(1 + e^z) - t z with t in {0, 1};
  K > 2 classes, the softmax cross-entropy loss = logsumexp(z) - z_y; predict the
  most probable class.
- :class:`LinearClassifier`: least squares on 0/1 targets (one column per class
  when K > 2) and predict class 1 where z > 0.5 (the most-scored class when K > 2),
  the classic teaching classifier (Hastie, Tibshirani & Friedman, *The Elements of
  Statistical Learning*, section 4.2).

Fitting is one call of :func:`descend.minimize` in data mode, so every fit has a
:class:`descend.Result` (``result_``) and its :class:`descend.History` (``history_``).
The default, full-batch Barzilai-Borwein steps (``method="bb"``), needs no learning
rate: on scikit-learn's diabetes data ``LinearRegression()`` reaches the closed-form
R^2. Plain or momentum mini-batch SGD on the squared loss runs a compiled epoch
(``descend.models._kernels.sgd_epoch``) with the same optimizer state.

Notes
-----
``alpha`` weighs the penalty against the *mean* loss, so its meaning does not depend
on n. scikit-learn's ``LogisticRegression(C=C)`` minimises C * (sum of losses) +
||W||^2 / 2, the same minimiser as ``alpha = 1 / (C n)``; and ``Ridge(alpha=a)``
matches ``alpha = a / n`` here.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from descend import _validate
from descend.core.minimize import Iteration, minimize
from descend.core.optimizers import GD, Momentum, Optimizer
from descend.core.result import Result
from descend.models import _kernels

__all__ = ["LinearClassifier", "LinearRegression", "LogisticRegression"]

Array = np.ndarray


# The losses, on packed parameters x = [W.ravel(), b]. minimize calls them as
# fun(x, X, T) and grad(x, X, T), T being the encoded targets of the batch X.


class _Loss:
    """(1/n) sum_i loss(z_i, t_i) + (alpha/2) ||W||^2 with z = X W^T + b, and its gradient.

    With dL/dz_i = e_i (``pointwise`` gives them): dL/dW = E^T X / n + alpha W and
    dL/db = sum_i e_i / n. ``fun`` and ``grad`` at the same point and batch share one
    evaluation (a line search calls ``fun`` at a point whose gradient comes next).
    """

    def __init__(self, n_features: int, n_outputs: int, alpha: float, fit_intercept: bool):
        self.shape = (n_outputs, n_features)
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.size = n_outputs * n_features + (n_outputs if fit_intercept else 0)
        # The last evaluation: x (a copy), the batch arrays (kept alive, so that an
        # identity test cannot meet a recycled id), f and the gradient.
        self._last: tuple[Array, Array, Array, float, Array] | None = None

    def unpack(self, x: Array) -> tuple[Array, Array]:
        """W (n_outputs, n_features) and b (n_outputs,), views of x where they can be."""
        k, d = self.shape
        W = x[: k * d].reshape(k, d)
        b = x[k * d :] if self.fit_intercept else np.zeros(k)
        return W, b

    def __call__(self, x: Array, X: Array, T: Array) -> float:
        return self._evaluate(x, X, T)[0]

    def grad(self, x: Array, X: Array, T: Array) -> Array:
        return self._evaluate(x, X, T)[1]

    def _evaluate(self, x: Array, X: Array, T: Array) -> tuple[float, Array]:
        last = self._last
        if last is not None and last[1] is X and last[2] is T and np.array_equal(last[0], x):
            return last[3], last[4]
        f, g = self.value_and_grad(x, X, T)
        self._last = (np.array(x), X, T, f, g)
        return f, g

    def value_and_grad(self, x: Array, X: Array, T: Array) -> tuple[float, Array]:
        W, b = self.unpack(x)
        n = len(X)
        total, E = self.pointwise(X @ W.T + b, T.reshape(n, -1))
        f = total / n + 0.5 * self.alpha * float(np.vdot(W, W))
        grad_W = E.T @ X / n + self.alpha * W
        if not self.fit_intercept:
            return f, grad_W.ravel()
        return f, np.concatenate([grad_W.ravel(), E.sum(axis=0) / n])

    def pointwise(self, Z: Array, T: Array) -> tuple[float, Array]:
        """The summed loss over the rows of scores Z (n, k) and targets T, and dloss/dZ."""
        raise NotImplementedError


class _Squared(_Loss):
    """loss = ||z - t||^2 / 2; dloss/dz = z - t.

    One target column runs through :mod:`descend.models._kernels`: one read of X per
    gradient, and for :class:`descend.GD` and :class:`descend.Momentum` a compiled
    epoch (:meth:`epoch_kernel`, which minimize's data loop looks for).
    """

    def pointwise(self, Z: Array, T: Array) -> tuple[float, Array]:
        R = Z - T
        return 0.5 * float(np.vdot(R, R)), R

    def value_and_grad(self, x: Array, X: Array, T: Array) -> tuple[float, Array]:
        if T.ndim != 1:
            return super().value_and_grad(x, X, T)
        W, b = self.unpack(x)
        n, coef = len(X), W[0]
        sse, grad_coef, grad_b = _kernels.least_squares(X, T, coef, float(b[0]))
        f = 0.5 * sse / n + 0.5 * self.alpha * float(coef @ coef)
        g = grad_coef / n + self.alpha * coef
        return f, np.append(g, grad_b / n) if self.fit_intercept else g

    def epoch_kernel(
        self, x: Array, state: Any, optimizer: Any, order: Any, batch_size: int | None, *data: Any
    ) -> tuple[Array, Any] | None:
        """One epoch of GD or heavy-ball steps on the batches of ``order``, compiled.

        The same updates as minimize's own loop (velocity <- momentum velocity - lr g;
        x <- x + velocity) with the optimizer's state carried in and out: ``t`` advances
        by the number of batches. None (use the loop) for any other optimizer, a
        schedule, clipping, several target columns or an X that is not C-contiguous
        float64. ``x`` and ``state`` are not modified.
        """
        kind = type(optimizer)
        if kind is not GD and kind is not Momentum:
            return None
        if callable(optimizer.lr) or optimizer.clip_norm is not None or len(data) != 2:
            return None
        X, y = data
        if not (isinstance(X, np.ndarray) and X.dtype == np.float64 and X.flags.c_contiguous):
            return None
        if np.ndim(y) != 1:
            return None
        size = len(order) if batch_size is None else int(batch_size)
        lr = float(optimizer.lr)
        params = np.array(x, dtype=np.float64)
        if kind is Momentum:
            velocity, momentum = np.array(state.v, dtype=np.float64), float(optimizer.momentum)
        else:
            velocity, momentum = np.zeros_like(params), 0.0
        _kernels.sgd_epoch(
            X, y, params, velocity, order, size, lr, momentum, self.alpha, self.fit_intercept
        )
        t = state.t + math.ceil(len(order) / size)
        if kind is Momentum:
            return params, state._replace(t=t, lr=lr, v=velocity)
        return params, state._replace(t=t, lr=lr)


class _Logistic(_Loss):
    """loss = log(1 + e^z) - t z for t in {0, 1}; dloss/dz = sigmoid(z) - t."""

    def pointwise(self, Z: Array, T: Array) -> tuple[float, Array]:
        return float(np.sum(np.logaddexp(0.0, Z) - T * Z)), expit(Z) - T


class _Softmax(_Loss):
    """loss = logsumexp(z) - z . t for one-hot t; dloss/dz = softmax(z) - t."""

    def pointwise(self, Z: Array, T: Array) -> tuple[float, Array]:
        log_p = log_softmax(Z, axis=1)
        return -float(np.vdot(T, log_p)), np.exp(log_p) - T


# The estimators: one base class holds fit, partial_fit and early stopping.


class _LinearModel(BaseEstimator):
    """Fit, partial_fit and early stopping, shared by the three models.

    A subclass says how targets are checked and encoded (``_learn_targets``,
    ``_encode``), which loss it minimises (``_loss``) and how the packed solution
    becomes ``coef_`` and ``intercept_`` (``_store``).
    """

    _stratify = False  # classifiers hold out a stratified validation set
    _numeric_targets = False
    validation_scores_: list[float] | None
    best_validation_score_: float | None

    def __init__(
        self,
        *,
        method: str | Optimizer = "bb",
        lr: float | None = None,
        batch_size: int | None = None,
        epochs: int = 1000,
        alpha: float = 0.0,
        fit_intercept: bool = True,
        tol: float | None = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.method = method
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> Any:
        """Fit from zero weights for at most ``epochs`` passes over (X, y).

        Stops when the gradient norm of the training loss falls to ``tol``, or, with
        ``early_stopping``, when the score on the held-out ``validation_fraction`` has
        not improved by ``tol`` for ``n_iter_no_change`` epochs. A run that diverges,
        or runs out of epochs with ``tol`` set, warns (``ConvergenceWarning``) with the
        run's own message, which says what to try.
        """
        self._check_params()
        X, y = self._validate(X, y, reset=True)
        self._learn_targets(y, classes=None)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.validation_scores_ = self.best_validation_score_ = None
        stopper = None
        if self.early_stopping:
            X, X_val, y, y_val = train_test_split(
                X,
                y,
                test_size=self.validation_fraction,
                random_state=seed,
                stratify=y if self._stratify else None,
            )
            stopper = _EarlyStopping(self, X_val, y_val)
        self.n_iter_ = 0
        res = self._descend(X, y, None, self.epochs, seed, stopper)
        # tol=None asks for all the epochs: running out of them is no failure then.
        if res.status == "diverged" or (res.status == "max_iter" and self.tol is not None):
            # The run's message names the rule, its values and what to try.
            warnings.warn(
                f"{type(self).__name__} did not converge: {res.message}",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _partial_fit(self, X: Any, y: Any, classes: Any) -> Any:
        """One epoch over (X, y), continuing from the current weights (zero at first).

        Each call is a fresh run of minimize: the optimizer's state (a momentum
        velocity, BB's step memory) starts anew, and neither ``tol`` nor
        ``early_stopping`` applies.
        """
        first = not hasattr(self, "coef_")
        self._check_params()
        X, y = self._validate(X, y, reset=first)
        x0 = None
        if first:
            self._learn_targets(y, classes)
            self.n_iter_ = 0
        else:
            self._check_same_targets(y, classes)
            x0 = np.ravel(self.coef_)
            if self.fit_intercept:
                x0 = np.append(x0, self.intercept_)
        # A new shuffle each call, repeatable from random_state.
        seed = np.random.default_rng(
            [check_random_state(self.random_state).randint(2**31), self.n_iter_]
        )
        self._descend(X, y, x0, 1, seed, None, partial=True)
        return self

    def _descend(
        self,
        X: Array,
        y: Array,
        x0: Array | None,
        epochs: int,
        seed: Any,
        stopper: _EarlyStopping | None,
        partial: bool = False,
    ) -> Result:
        """The one call of minimize, from x0 (None: zeros); stores its outcome."""
        loss = self._loss(X.shape[1])
        x0 = np.zeros(loss.size) if x0 is None else x0
        batch_size = self.batch_size if self.batch_size is None else min(self.batch_size, len(X))
        # tol is a gradient tolerance, except where early stopping or partial_fit's single
        # epoch decides instead.
        gtol = None if (stopper is not None or partial) else self.tol
        res = minimize(
            loss,
            x0,
            self.method,
            grad=loss.grad,
            lr=self.lr,
            data=(X, self._encode(y)),
            batch_size=batch_size,
            epochs=epochs,
            shuffle=True,
            seed=seed,
            gtol=gtol,
            callback=stopper,
        )
        self._store(loss, res.x)
        self.result_ = res
        self.history_ = res.history
        self.n_iter_ += res.nepoch or 0  # always set in data mode
        return res

    def _check_params(self) -> None:
        """Check the hyperparameters minimize does not see (it checks method, lr, epochs)."""
        _validate.nonnegative("alpha", self.alpha, "; 0 is no penalty")
        _validate.boolean("fit_intercept", self.fit_intercept)
        if self.tol is not None and not _validate.real_number("tol", self.tol) >= 0:
            raise ValueError(f"tol must be a number >= 0 or None, got {self.tol!r}")
        if self.batch_size is not None:
            _validate.count("batch_size", self.batch_size, minimum=1)
        _validate.boolean("early_stopping", self.early_stopping)
        if not 0 < _validate.real_number("validation_fraction", self.validation_fraction) < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}; "
                "0.1 holds out a tenth of the data"
            )
        _validate.count("n_iter_no_change", self.n_iter_no_change, minimum=1)

    def _validate(self, X: Any, y: Any, reset: bool) -> tuple[Array, Array]:
        # C-contiguous float64: what the compiled kernels read without a copy.
        numeric = self._numeric_targets
        return validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=np.float64,
            order="C",
            y_numeric=numeric,
            multi_output=numeric,
        )

    def _decision(self, X: Any) -> Array:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_.T + self.intercept_

    # What a subclass provides.

    def _learn_targets(self, y: Array, classes: Any) -> None:
        raise NotImplementedError

    def _check_same_targets(self, y: Array, classes: Any) -> None:
        raise NotImplementedError

    def _encode(self, y: Array) -> Array:
        raise NotImplementedError

    def _loss(self, n_features: int) -> _Loss:
        raise NotImplementedError

    def _store(self, loss: _Loss, x: Array) -> None:
        raise NotImplementedError


class _EarlyStopping:
    """minimize's callback: stop when the validation score has stalled (scikit-learn's rule).

    After each epoch: a score below best + tol counts as no improvement; after
    ``n_iter_no_change`` such epochs in a row the run stops. The scores are kept in
    ``model.validation_scores_``.
    """

    def __init__(self, model: _LinearModel, X: Array, y: Array) -> None:
        self.model, self.X, self.y = model, X, y
        self.best, self.stalled = -math.inf, 0
        self.scores: list[float] = []
        model.validation_scores_ = self.scores

    def __call__(self, info: Iteration) -> bool:
        model = self.model
        model._store(model._loss(self.X.shape[1]), info.x)
        score = model.score(self.X, self.y)
        self.scores.append(score)
        self.stalled = self.stalled + 1 if score < self.best + (model.tol or 0.0) else 0
        self.best = model.best_validation_score_ = max(self.best, score)
        return self.stalled >= model.n_iter_no_change


_PARAMETERS = """
    method : str or descend.Optimizer, default="bb"
        The optimizer: a name from ``descend.OPTIMIZERS`` or an object such as
        ``descend.Momentum(lr=0.01, momentum=0.9)``. The default, Barzilai-Borwein steps
        with a non-monotone line search, picks its own step sizes on the full batch.
    lr : float or callable, optional
        Learning rate or schedule, passed to the optimizer (default: its own).
    batch_size : int, optional
        Samples per update; None (the default) is the full batch. Capped at n.
    epochs : int, default=1000
        Most passes over the data.
    alpha : float
        L2 penalty (alpha/2) ||W||^2 added to the mean loss; the intercept is not
        penalised.
    fit_intercept : bool, default=True
        Fit b; with False the model is z = W x.
    tol : float or None, default=1e-4
        Stop when the gradient norm of the training loss is at most ``tol``; with
        ``early_stopping``, the least improvement of the validation score that counts.
        None runs all ``epochs``, and running out of them is then no cause to warn.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers) and
        stop when its score (``score``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs in a row. The weights are those of the last epoch.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    random_state : int, RandomState or None
        Seeds the shuffling of mini-batches and the validation split.
"""

_ATTRIBUTES = """
    n_iter_ : int
        Epochs run (summed over ``partial_fit`` calls since the first).
    result_ : descend.Result
        The last call of :func:`descend.minimize`: status, message, ``nit``, ``nepoch``.
    history_ : descend.History
        Its history, one point per epoch: training loss, gradient norm, step size, time,
        and the packed parameters ``[coef_.ravel(), intercept_]`` when they are few.
    validation_scores_ : list of float or None
        With ``early_stopping``, the validation score after each epoch; else None.
    best_validation_score_ : float or None
        With ``early_stopping``, the best of them; else None.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X has string column names.
"""


class LinearRegression(RegressorMixin, _LinearModel):
    __doc__ = f"""Least squares (ridge with ``alpha`` > 0), fitted by gradient descent.

    Minimises (1/n) sum_i ||W x_i + b - y_i||^2 / 2 + (alpha/2) ||W||^2. One target
    or several (y of shape (n, k)).

    Parameters
    ----------{_PARAMETERS}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
        0.0 when ``fit_intercept`` is False.{_ATTRIBUTES}
    Notes
    -----
    ``alpha`` here is scikit-learn's ``Ridge(alpha=a)`` divided by n. With the
    default full batch and ``method="bb"``, the fit reaches the closed-form
    solution to within ``tol`` in gradient norm; mini-batch GD or momentum on a
    single target runs a compiled epoch (Numba, when installed).

    Examples
    --------
    >>> import numpy as np
    >>> from descend.models import LinearRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]])
    >>> model = LinearRegression(tol=1e-10).fit(X, X @ [2.0, -1.0] + 0.5)
    >>> model.coef_.round(6), round(model.intercept_, 6), model.result_.status
    (array([ 2., -1.]), 0.5, <Status.CONVERGED: 'converged'>)
    """

    _numeric_targets = True  # y is numbers, one column or several

    def partial_fit(self, X: Any, y: Any) -> LinearRegression:
        """One epoch over (X, y) from the current weights (zeros on the first call)."""
        return self._partial_fit(X, y, None)

    def predict(self, X: Any) -> Array:
        """W x + b for each row of X."""
        return self._decision(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _learn_targets(self, y: Array, classes: Any) -> None:
        self._targets = y.shape[1:]  # () for one target, (k,) for k

    def _check_same_targets(self, y: Array, classes: Any) -> None:
        if y.shape[1:] != self._targets:
            raise ValueError(
                f"y has {y.shape[1:] or 'one column'} targets per sample, but the first "
                f"partial_fit had {self._targets or 'one column'}"
            )

    def _encode(self, y: Array) -> Array:
        # A fresh array: the compiled kernels then see one array type, never a read-only y.
        return np.array(y, dtype=np.float64, order="C")

    def _loss(self, n_features: int) -> _Loss:
        k = self._targets[0] if self._targets else 1
        return _Squared(n_features, k, self.alpha, self.fit_intercept)

    def _store(self, loss: _Loss, x: Array) -> None:
        W, b = loss.unpack(np.asarray(x))
        if self._targets:
            self.coef_, self.intercept_ = W.copy(), b.copy()
        else:
            self.coef_, self.intercept_ = W[0].copy(), float(b[0])


class _Classifier(ClassifierMixin, _LinearModel):
    """Labels, encoded targets, decision_function and predict for both classifiers.

    Two classes have one score column (z > threshold predicts ``classes_[1]``); K > 2
    classes have K columns and predict the largest.
    """

    _stratify = True
    _threshold = 0.0

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Any:
        """One epoch over (X, y) from the current weights (zeros on the first call).

        The first call needs ``classes``, all the labels there will be.
        """
        if not hasattr(self, "coef_") and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit, e.g. "
                "classes=np.unique(y_all): later batches may hold labels this one lacks"
            )
        return self._partial_fit(X, y, classes)

    def decision_function(self, X: Any) -> Array:
        """Scores: shape (n,) for two classes (> 0 means ``classes_[1]``), else (n, K)."""
        Z = self._decision(X)
        return Z[:, 0] - self._threshold if Z.shape[1] == 1 else Z

    def predict(self, X: Any) -> Array:
        """The predicted label of each row of X."""
        Z = self.decision_function(X)
        return self.classes_[(Z > 0).astype(int) if Z.ndim == 1 else Z.argmax(axis=1)]

    def _learn_targets(self, y: Array, classes: Any) -> None:
        check_classification_targets(y)
        self.classes_ = np.unique(y if classes is None else np.asarray(classes))
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, got one class: "
                f"{self.classes_.tolist()[0]!r}"
            )
        self._encode(y)  # labels outside classes fail here

    def _check_same_targets(self, y: Array, classes: Any) -> None:
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from the first call's "
                f"{self.classes_.tolist()}"
            )

    def _encode(self, y: Array) -> Array:
        """0/1 for two classes; one-hot rows (n, K) for more."""
        index = np.searchsorted(self.classes_, y).clip(0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(
                f"y holds labels that are not in classes {self.classes_.tolist()}: "
                f"{np.unique(y[unknown])[:5].tolist()}"
            )
        if len(self.classes_) == 2:
            return (index == 1).astype(np.float64)
        return np.eye(len(self.classes_))[index]

    def _outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _store(self, loss: _Loss, x: Array) -> None:
        W, b = loss.unpack(np.asarray(x))
        self.coef_, self.intercept_ = W.copy(), b.copy()


class LogisticRegression(_Classifier):
    __doc__ = f"""Logistic regression, binary or multinomial (softmax), fitted by gradient descent.

    Minimises the mean cross-entropy plus (alpha/2) ||W||^2: for two classes
    log(1 + e^z) - t z with z = w x + b and t = 1 for ``classes_[1]``; for K > 2,
    logsumexp(z) - z_y with one score per class.

    Parameters
    ----------{_PARAMETERS.replace("    alpha : float", "    alpha : float, default=1e-4")}
    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (K, n_features)
    intercept_ : ndarray of shape (1,) or (K,){_ATTRIBUTES}
    Notes
    -----
    scikit-learn's ``LogisticRegression(C=C)`` on n samples is ``alpha = 1 / (C n)``
    here: its default C=1 on 1,000 samples is alpha=1e-3. The default alpha=1e-4 (as
    in ``SGDClassifier``) keeps separable data from driving the weights to infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from descend.models import LogisticRegression
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    >>> model = LogisticRegression(alpha=0.1).fit(X, ["no", "no", "yes", "yes"])
    >>> model.predict([[-3.0], [0.5]]), model.predict_proba([[0.0]]).round(3)
    (array(['no', 'yes'], dtype='<U3'), array([[0.5, 0.5]]))
    """

    def __init__(
        self,
        *,
        method: str | Optimizer = "bb",
        lr: float | None = None,
        batch_size: int | None = None,
        epochs: int = 1000,
        alpha: float = 1e-4,
        fit_intercept: bool = True,
        tol: float | None = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        super().__init__(
            method=method,
            lr=lr,
            batch_size=batch_size,
            epochs=epochs,
            alpha=alpha,
            fit_intercept=fit_intercept,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
        )

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities, shape (n, K): the sigmoid (two classes) or the softmax."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            p = expit(Z)
            return np.column_stack([1 - p, p])
        return softmax(Z, axis=1)

    def predict_log_proba(self, X: Any) -> Array:
        """The logarithms of ``predict_proba``, computed without underflow."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            return np.column_stack([log_expit(-Z), log_expit(Z)])
        return log_softmax(Z, axis=1)

    def _loss(self, n_features: int) -> _Loss:
        k = self._outputs()
        return (_Logistic if k == 1 else _Softmax)(n_features, k, self.alpha, self.fit_intercept)


class LinearClassifier(_Classifier):
    __doc__ = f"""Least squares on 0/1 targets, thresholded at 0.5: the classic teaching classifier.

    For two classes, fits z = w x + b to t = 1 for ``classes_[1]`` and 0 otherwise
    (mean squared error / 2 plus (alpha/2) ||w||^2) and predicts ``classes_[1]`` where
    z > 0.5; for K > 2 classes, fits one such column per class (linear regression of
    an indicator matrix) and predicts the largest. ``coef_`` and ``intercept_`` are the
    least-squares fit; ``decision_function`` is z - 0.5 for two classes, so that its
    sign gives the class as in every scikit-learn classifier.

    Parameters
    ----------
    loss : {{"squared"}}, default="squared"
        The loss; squared error is the one there is.{_PARAMETERS}
    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (K, n_features)
    intercept_ : ndarray of shape (1,) or (K,){_ATTRIBUTES}
    Notes
    -----
    With three or more classes the indicator fit can *mask* a class whose
    centre lies between others, so that it is never predicted (Hastie, Tibshirani &
    Friedman, section 4.2); :class:`LogisticRegression` does not have that flaw.

    Examples
    --------
    >>> import numpy as np
    >>> from descend.models import LinearClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LinearClassifier(tol=1e-10).fit(X, [0, 0, 1, 1])
    >>> model.coef_.round(6), model.predict([[1.4], [1.6]])  # z = 0.4 x - 0.1
    (array([[0.4]]), array([0, 1]))
    """

    _threshold = 0.5

    def __init__(
        self,
        *,
        loss: str = "squared",
        method: str | Optimizer = "bb",
        lr: float | None = None,
        batch_size: int | None = None,
        epochs: int = 1000,
        alpha: float = 0.0,
        fit_intercept: bool = True,
        tol: float | None = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.loss = loss
        super().__init__(
            method=method,
            lr=lr,
            batch_size=batch_size,
            epochs=epochs,
            alpha=alpha,
            fit_intercept=fit_intercept,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
        )

    def _check_params(self) -> None:
        if self.loss != "squared":
            raise ValueError(f"loss must be 'squared', got {self.loss!r}")
        super()._check_params()

    def _loss(self, n_features: int) -> _Loss:
        return _Squared(n_features, self._outputs(), self.alpha, self.fit_intercept)
