"""The base the linear estimators share: fit, partial_fit and early stopping.

:class:`descend.models.LinearRegression`, :class:`descend.models.LogisticRegression`
and :class:`descend.models.LinearClassifier` (:mod:`descend.models.linear`) differ only
in their targets, their loss (:mod:`descend.models._losses`) and how a score becomes a
prediction. What they do alike lives here, once:

- :class:`_LinearModel`: the hyperparameters and their checks, the validation of X and
  y, the standardisation (``scale``), the choice of method, the one call of
  :func:`descend.minimize` in data mode behind ``fit`` and ``partial_fit``, the
  ``ConvergenceWarning`` (with a hint to standardise when ``scale=False`` and the
  columns' scales differ), and the decision ``X @ coef_.T + intercept_``. A subclass
  supplies ``_learn_targets``, ``_check_same_targets``, ``_encode``, ``_loss`` and
  ``_store``.
- :class:`_EarlyStopping`: minimize's callback that stops a run when the score on a
  held-out set has stalled, scikit-learn's rule.

The columns' shift and scale come from :mod:`descend.models._scaling`. X may be a
SciPy sparse matrix (any format becomes CSR, as scikit-learn's ``accept_sparse="csr"``):
the losses' gradients are then sparse products, each mini-batch a CSR slice of rows.

>>> from descend.models import LinearRegression
>>> issubclass(LinearRegression, _LinearModel)
True
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from descend import _validate
from descend.core.loop import Iteration
from descend.core.minimize import minimize
from descend.core.optimizers import OPTIMIZERS, Optimizer
from descend.core.result import History, Result, Status
from descend.engines import dask as _dask

from ._losses import _Loss, _PerBlock
from ._scaling import _SCALING_ROWS, _scaling

Array = np.ndarray

# With scale=False: columns whose magnitudes differ by more than _SPREAD_TO_WARN warn;
# so do those that differ by more than _SPREAD_TO_BLAME when the run ended with its
# gradient (in standardised units) above _FAR_FROM_OPTIMUM of its start, or above tol
# after "converging" at f's rounding. (Alike columns leave the cause elsewhere: lr,
# epochs; the run's own message says which.)
_SPREAD_TO_WARN = 100.0
_SPREAD_TO_BLAME = 10.0
_FAR_FROM_OPTIMUM = 1e-2


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
        method: str | Optimizer | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        epochs: int = 1000,
        alpha: float = 0.0,
        fit_intercept: bool = True,
        scale: bool = True,
        tol: float | None = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        random_state: int | np.random.RandomState | None = None,
        persist: bool = False,
    ) -> None:
        self.persist = persist
        self.scale = scale
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
        run's own message, which says what to try. X is an array-like or a SciPy sparse
        matrix of shape (n, d); neither is modified. X and y may be Dask arrays: each
        pass then reads them block by block (``persist=True`` keeps them in the
        cluster's memory), the loss summed over the blocks; ``predict`` and the other
        per-row methods then answer a Dask X with a Dask array, made block by block.
        """
        self._check_params()
        on_blocks = _dask.is_dask(X, y)
        X, y = self._dask_inputs(X, y) if on_blocks else self._validate(X, y, reset=True)
        labels = _dask.distinct(y) if on_blocks and not self._numeric_targets else y
        self._learn_targets(labels, classes=None)
        rows = _dask.sample_rows(X, _SCALING_ROWS) if on_blocks else X  # the same rows
        self._scaling = _scaling(rows, self.alpha, self.fit_intercept)
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
        self._descend(X, y, None, self.epochs, seed, stopper)
        return self

    def _partial_fit(self, X: Any, y: Any, classes: Any) -> Any:
        """One epoch over (X, y), continuing from the current weights (zero at first).

        Each call is a fresh run of minimize: the optimizer's state (a momentum
        velocity, BB's step memory) starts anew, and neither ``tol`` nor
        ``early_stopping`` applies. With ``scale``, the columns' shift and scale are
        those of the first call's X, kept for the later ones.
        """
        first = not hasattr(self, "coef_")
        self._check_params()
        X, y = self._validate(X, y, reset=first)
        x0 = None
        if first:
            self._learn_targets(y, classes)
            self._scaling = _scaling(X, self.alpha, self.fit_intercept)  # kept from now on
            self.n_iter_ = 0
        else:
            self._check_same_targets(y, classes)
            x0 = self._loss(X.shape[1]).pack(self.coef_, self.intercept_)
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
        """The one call of minimize, from x0 (None: zeros); stores its outcome and warns
        (``ConvergenceWarning``) when it failed, or when unscaled columns made it hard."""
        loss = self._loss(X.shape[1])
        x0 = np.zeros(loss.size) if x0 is None else x0
        n = X.shape[0]
        batch_size = self.batch_size if self.batch_size is None else min(self.batch_size, n)
        method = self._method()
        _warn_line_search(method, batch_size)
        # tol is a gradient tolerance, except where early stopping or partial_fit's single
        # epoch decides instead. Unscaled, it is tightened so that a converged run is
        # within tol in standardised units too (where f's slope along each column is
        # measured per standard deviation of the column, whatever its units).
        gtol = None if (stopper is not None or partial) else self.tol
        standard = self._loss(X.shape[1], standardised=True)
        if gtol is not None and not loss.standardised:
            gtol = gtol / _chain_norm(standard)
        on_blocks = _dask.is_dask(X)
        T = _dask.map_rows(self._encode, y) if on_blocks else self._encode(y)
        res = minimize(
            _PerBlock(loss, n) if on_blocks else loss,
            x0,
            method,
            grad=loss.grad,
            lr=self.lr,
            data=(X, T),
            batch_size=batch_size,
            epochs=epochs,
            shuffle=True,
            seed=seed,
            gtol=gtol,
            callback=stopper,
            persist=self.persist,
        )
        hint, unmet = ("", False)
        if not (loss.standardised or partial):
            hint, unmet = self._scale_hint(loss, standard, res, x0, X, T)
        # tol=None asks for all the epochs: running out of them is no failure then.
        failed = res.status == "diverged" or (res.status == "max_iter" and self.tol is not None)
        if unmet:  # "converged" at f's rounding, short of tol in standardised units
            why = res.message.removeprefix("converged: ")
            res = dataclasses.replace(res, status=Status.STOPPED, message=f"stopped: {why}")
            failed = True
        self._store(loss, res.x)
        self.result_ = res
        self.history_ = _user_history(loss, res.history)
        self.n_iter_ += res.nepoch or 0  # always set in data mode
        if (failed or hint) and not partial:  # partial_fit's single epoch is no failure
            # The run's message names the rule, its values and what to try.
            name = type(self).__name__
            said = f"{name} did not converge: " if failed else f"{name}: "
            warnings.warn(f"{said}{res.message}{hint}", ConvergenceWarning, stacklevel=3)
        return res

    def _method(self) -> str | Optimizer:
        """The method asked for; else L-BFGS on the full batch, plain SGD on mini-batches
        or with a learning rate."""
        if self.method is not None:
            return self.method
        return "gd" if self.batch_size is not None or self.lr is not None else "lbfgs"

    def _scale_hint(
        self, loss: _Loss, standard: _Loss, res: Result, x0: Array, X: Array, T: Array
    ) -> tuple[str, bool]:
        """With scale=False: what to add to the run's message, and whether a "converged"
        ending missed tol in standardised units (a line search's ending at f's rounding).

        The hint says where the run ended, in standardised units, when that is far from
        its optimum or above tol; and, when the columns' scales differ enough to be the
        cause, by how much and the fix. ("", False) for a run with nothing to add.
        """
        magnitudes = self._scaling.magnitude[self._scaling.magnitude > 0]
        if self.fit_intercept:  # the intercept's column of ones
            magnitudes = np.append(magnitudes, 1.0)
        spread = float(magnitudes.max() / magnitudes.min()) if len(magnitudes) else 1.0
        # Both gradients in standardised units: f's slope per standard deviation of a column.
        end = _standard_grad_norm(loss, standard, np.asarray(res.grad))
        if _dask.is_dask(X):  # one pass over the blocks
            g0 = _dask.total(_PerBlock(loss, X.shape[0]).per_block, x0, X, T)[1]
        else:
            g0 = loss.grad(x0, X, T)
        start = _standard_grad_norm(loss, standard, g0)
        unmet = res.status == "converged" and self.tol is not None and end > self.tol
        far = end > max(self.tol or 0.0, _FAR_FROM_OPTIMUM * start)
        blame = spread > _SPREAD_TO_WARN or (spread > _SPREAD_TO_BLAME and (far or unmet))
        hint = ""
        if far or unmet:
            where = [f"far from its optimum ({end / start:.2g} of its start)"] if far else []
            where += [f"above tol={self.tol:g}"] if unmet else []
            hint = f"; it ended at gradient norm {end:.3g} in standardised units, "
            hint += " and ".join(where)
        if blame:
            hint += (
                f"; features differ in scale by a factor of {spread:,.0f}; standardise them "
                "(sklearn.preprocessing.StandardScaler) or use scale=True"
            )
        elif not unmet:
            hint = ""  # far, with alike columns: the run's own message says why
        return hint, unmet

    def _check_params(self) -> None:
        """Check the hyperparameters minimize does not see (it checks method, lr, epochs)."""
        _validate.nonnegative("alpha", self.alpha, "; 0 is no penalty")
        _validate.boolean("fit_intercept", self.fit_intercept)
        _validate.boolean("scale", self.scale)
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
        if _dask.is_dask(X, y):  # fit takes them before this; partial_fit would gather them
            raise TypeError(
                "partial_fit takes arrays in memory, got a Dask array; pass its blocks one "
                "by one (X.blocks[i].compute()), or fit the whole Dask array with fit"
            )
        # C-contiguous float64: what the compiled kernels read without a copy. A sparse
        # X becomes CSR, whose rows a batch slices (the kernels leave it to NumPy).
        numeric = self._numeric_targets
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse="csr",
            dtype=np.float64,
            order="C",
            y_numeric=numeric,
            multi_output=numeric,
        )
        return X, (y.toarray() if sparse.issparse(y) else y)  # targets are dense numbers

    def _dask_inputs(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Dask X (n, d) and y, checked as far as their shapes go, without reading them."""
        if self.early_stopping:
            raise ValueError(
                "early_stopping holds out rows of X in memory, and X here is a Dask array; "
                "split off a validation set yourself, or use early_stopping=False"
            )
        _validate.boolean("persist", self.persist)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, (samples, features), got shape {X.shape}")
        if X.dtype != np.float64:
            X = X.astype(np.float64)
        self.n_features_in_ = X.shape[1]
        return X, y

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _decision(self, X: Any) -> Array:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr", dtype=np.float64)
        return X @ self.coef_.T + self.intercept_

    # What a subclass provides.

    def _learn_targets(self, y: Array, classes: Any) -> None:
        raise NotImplementedError

    def _check_same_targets(self, y: Array, classes: Any) -> None:
        raise NotImplementedError

    def _encode(self, y: Array) -> Array:
        raise NotImplementedError

    def _loss(self, n_features: int, standardised: bool | None = None) -> _Loss:
        """The loss of the fit (standardised when ``scale``, or as ``standardised`` says)."""
        raise NotImplementedError

    def _make_loss(
        self, kind: type[_Loss], n_features: int, n_outputs: int, standardised: bool | None
    ) -> _Loss:
        scaling = self._scaling if (self.scale if standardised is None else standardised) else None
        return kind(
            n_features, n_outputs, self.alpha, self.fit_intercept,
            shift=None if scaling is None else scaling.shift,
            scale=None if scaling is None else scaling.scale,
        )  # fmt: skip

    def _store(self, loss: _Loss, x: Array) -> None:
        raise NotImplementedError


def _chain_norm(standard: _Loss) -> float:
    """A bound on how much the chain rule into standardised units can lengthen a gradient:
    ||(g_W - g_b shift) / scale, g_b|| <= sqrt(1/min(scale)**2 + ||shift/scale||**2 + 1)
    ||(g_W, g_b)|| (Cauchy-Schwarz), or 1/min(scale) without an intercept."""
    inverse = 1.0 / float(standard.scale.min()) if standard.scale.size else 1.0
    if not standard.fit_intercept:
        return inverse
    return math.sqrt(inverse**2 + float(np.sum((standard.shift / standard.scale) ** 2)) + 1.0)


def _standard_grad_norm(loss: _Loss, standard: _Loss, grad: Array) -> float:
    """||grad|| in standardised units, for a gradient in ``loss``'s (the user's) units."""
    k, d = loss.shape
    grad_b = grad[k * d :] if loss.fit_intercept else np.zeros(k)
    return float(np.linalg.norm(standard.chain(grad[: k * d].reshape(k, d), grad_b)))


def _user_history(loss: _Loss, history: History) -> History:
    """The history with its recorded x in the user's units, [coef_.ravel(), intercept_]."""
    if not loss.standardised or history.x is None:
        return history
    rows = []
    for x in history.x:
        W, b = loss.unpack(x)
        rows.append(np.concatenate([W.ravel(), b]) if loss.fit_intercept else W.ravel())
    return dataclasses.replace(history, x=np.array(rows).reshape(history.x.shape))


def _warn_line_search(method: str | Optimizer, batch_size: int | None) -> None:
    """Warn that a line search on mini-batches fits each batch's noise (L-BFGS refuses)."""
    if batch_size is None:
        return
    if isinstance(method, Optimizer):
        kind: type[Optimizer] | None = type(method)
    else:
        kind = OPTIMIZERS.get(str(method).lower())
    if kind is None or not kind.uses_fun or kind.full_batch_only:
        return
    warnings.warn(
        f"method {kind.name!r} is a line search: on mini-batches (batch_size={batch_size}) "
        "each search minimises the batch's own loss, so its steps chase batch noise; use "
        "batch_size=None with it, or a stochastic method such as 'gd', 'momentum' or 'dog'",
        UserWarning,
        stacklevel=4,
    )


class _EarlyStopping:
    """minimize's callback: stop when the validation score has stalled (scikit-learn's rule).

    After each epoch: a score below best + tol counts as no improvement; after
    ``n_iter_no_change`` such epochs in a row the run stops. The scores are kept in
    ``model.validation_scores_``.
    """

    def __init__(self, model: _LinearModel, X: Array, y: Array) -> None:
        self.model, self.X, self.y = model, X, y
        self.loss = model._loss(X.shape[1])
        self.best, self.stalled = -math.inf, 0
        self.scores: list[float] = []
        model.validation_scores_ = self.scores

    def __call__(self, info: Iteration) -> bool:
        model = self.model
        model._store(self.loss, info.x)
        score = model.score(self.X, self.y)
        self.scores.append(score)
        self.stalled = self.stalled + 1 if score < self.best + (model.tol or 0.0) else 0
        self.best = model.best_validation_score_ = max(self.best, score)
        return self.stalled >= model.n_iter_no_change
