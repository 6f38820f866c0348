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
By default (``scale=True``) the features are standardised inside the fit, so that the
units of a column change nothing but ``coef_``; the method, when none is named, is
full-batch L-BFGS (``"lbfgs"``, no learning rate), or plain SGD (``"gd"``) with a
``batch_size`` or an ``lr``: on scikit-learn's diabetes data ``LinearRegression()``
reaches the closed-form R^2 in 30 gradients (BB took 103). Plain or momentum
mini-batch SGD on the squared loss runs a compiled epoch
(``descend.models._linear_kernels.sgd_epoch``) with the same optimizer state, reading
standardised rows without a copy of X. X may also be a SciPy sparse matrix, in any
format (it becomes CSR, scikit-learn's ``accept_sparse="csr"``): the gradients are then
sparse products and each mini-batch a CSR slice of rows, through minimize's own loop
rather than the compiled epoch, with the dense fit's coefficients to rounding.

This module holds the three estimators; their losses are in
:mod:`descend.models._losses`, and what they share in fitting (``fit``, ``partial_fit``,
early stopping) in :mod:`descend.models._linear_base`.

Notes
-----
``alpha`` weighs the penalty against the *mean* loss, so its meaning does not depend
on n. scikit-learn's ``LogisticRegression(C=C)`` minimises C * (sum of losses) +
||W||^2 / 2, the same minimiser as ``alpha = 1 / (C n)``; and ``Ridge(alpha=a)``
matches ``alpha = a / n`` here. As in scikit-learn, the penalty is on the
coefficients in the user's units, ``coef_``, with or without ``scale``:
standardising only changes the coordinates the optimizer works in, never the
minimiser.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets

from descend.core.optimizers import Optimizer
from descend.engines.dask import rowwise

from ._linear_base import _LinearModel
from ._linear_docs import _ATTRIBUTES, _PARAMETERS
from ._losses import _Logistic, _Loss, _Softmax, _Squared

__all__ = ["LinearClassifier", "LinearRegression", "LogisticRegression"]

Array = np.ndarray


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
    ``alpha`` here is scikit-learn's ``Ridge(alpha=a)`` divided by n, on ``coef_``
    in the user's units (not on the standardised coefficients). With the default
    full batch and L-BFGS, the fit reaches the closed-form solution to within
    ``tol`` in gradient norm (in standardised units); mini-batch GD or momentum on a
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

    @rowwise
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

    def _loss(self, n_features: int, standardised: bool | None = None) -> _Loss:
        k = self._targets[0] if self._targets else 1
        return self._make_loss(_Squared, n_features, k, standardised)

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

    @rowwise
    def decision_function(self, X: Any) -> Array:
        """Scores: shape (n,) for two classes (> 0 means ``classes_[1]``), else (n, K)."""
        Z = self._decision(X)
        return Z[:, 0] - self._threshold if Z.shape[1] == 1 else Z

    @rowwise
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
        method: str | Optimizer | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        epochs: int = 1000,
        alpha: float = 1e-4,
        fit_intercept: bool = True,
        scale: bool = True,
        tol: float | None = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        random_state: int | np.random.RandomState | None = None,
        persist: bool = False,
    ) -> None:
        super().__init__(
            method=method,
            lr=lr,
            batch_size=batch_size,
            epochs=epochs,
            alpha=alpha,
            fit_intercept=fit_intercept,
            scale=scale,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            persist=persist,
        )

    @rowwise
    def predict_proba(self, X: Any) -> Array:
        """Class probabilities, shape (n, K): the sigmoid (two classes) or the softmax."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            p = expit(Z)
            return np.column_stack([1 - p, p])
        return softmax(Z, axis=1)

    @rowwise
    def predict_log_proba(self, X: Any) -> Array:
        """The logarithms of ``predict_proba``, computed without underflow."""
        Z = self.decision_function(X)
        if Z.ndim == 1:
            return np.column_stack([log_expit(-Z), log_expit(Z)])
        return log_softmax(Z, axis=1)

    def _loss(self, n_features: int, standardised: bool | None = None) -> _Loss:
        k = self._outputs()
        return self._make_loss(_Logistic if k == 1 else _Softmax, n_features, k, standardised)


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
        self.loss = loss
        super().__init__(
            method=method,
            lr=lr,
            batch_size=batch_size,
            epochs=epochs,
            alpha=alpha,
            fit_intercept=fit_intercept,
            scale=scale,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            persist=persist,
        )

    def _check_params(self) -> None:
        if self.loss != "squared":
            raise ValueError(f"loss must be 'squared', got {self.loss!r}")
        super()._check_params()

    def _loss(self, n_features: int, standardised: bool | None = None) -> _Loss:
        return self._make_loss(_Squared, n_features, self._outputs(), standardised)
