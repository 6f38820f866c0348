"""The base the linear estimators share: fit, partial_fit and early stopping.

:class:`descend.models.LinearRegression`, :class:`descend.models.LogisticRegression`
and :class:`descend.models.LinearClassifier` (:mod:`descend.models.linear`) differ only
in their targets, their loss (:mod:`descend.models._losses`) and how a score becomes a
prediction. What they do alike lives here, once:

- :class:`_LinearModel`: the hyperparameters and their checks, the validation of X and
  y, the one call of :func:`descend.minimize` in data mode behind ``fit`` and
  ``partial_fit``, the ``ConvergenceWarning``, and the decision ``X @ coef_.T +
  intercept_``. A subclass supplies ``_learn_targets``, ``_check_same_targets``,
  ``_encode``, ``_loss`` and ``_store``.
- :class:`_EarlyStopping`: minimize's callback that stops a run when the score on a
  held-out set has stalled, scikit-learn's rule.
- ``_PARAMETERS`` and ``_ATTRIBUTES``: the parts of the estimators' docstrings that
  describe these shared parameters and fitted attributes.

>>> from descend.models import LinearRegression
>>> issubclass(LinearRegression, _LinearModel)
True
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from descend import _validate
from descend.core.loop import Iteration
from descend.core.minimize import minimize
from descend.core.optimizers import Optimizer
from descend.core.result import Result

from ._losses import _Loss

Array = np.ndarray

# One base class holds fit, partial_fit and early stopping.


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
