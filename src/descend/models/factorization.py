"""Matrix factorisation for ratings, a scikit-learn estimator fitted by :func:`descend.minimize`.

A rating r of item i by user u is predicted as

    r_hat = mu + b_u + b_i + p_u . q_i,

mu the mean training rating, b_u and b_i biases, p_u and q_i vectors of ``n_factors``
latent factors (Funk's SVD, with Koren's biases). Fitting minimises the mean over the
training ratings of

    l = e**2 / 2 + reg/2 (b_u**2 + b_i**2 + ||p_u||**2 + ||q_i||**2),    e = r_hat - r,

by :func:`descend.minimize` in data mode, one rating per step by default: gradient
descent on one rating's l is exactly Funk's (and scikit-surprise's ``SVD``) update,

    b_u <- b_u - lr (e + reg b_u),    p_u <- p_u - lr (e q_i + reg p_u),  (q_i, b_i alike).

The regulariser is counted once per rating, so a user with many ratings is pulled
toward zero in proportion (as in Surprise). With :class:`descend.GD` at a constant
learning rate, minimize's loop hands each epoch to the objective's compiled
``epoch_kernel`` (:func:`descend.models._factorization_kernels.factorization_epoch`),
which makes the same updates in the same order touching only the rows each rating
names; any other optimizer runs minimize's own loop on dense gradients (fine for the
full batch, slow one rating at a time).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from descend import _validate
from descend.core.minimize import minimize
from descend.core.optimizers import GD, Optimizer
from descend.problems import datasets

from . import _factorization_kernels, _ids
from ._factorization_inputs import _held_out, _ratings, _triplets
from ._factorization_monitor import _Monitor

__all__ = ["MatrixFactorization"]

Array = np.ndarray


class _Objective:
    """The mean of l over a batch of (user, item, rating) triplets, on packed parameters.

    x = [U.ravel(), V.ravel()] with U[u] = [b_u, p_u] (n_users rows) and
    V[i] = [b_i, q_i] (n_items rows); users and items are row indices. ``fun`` and
    ``grad`` at the same point and batch share one pass over it.
    """

    def __init__(self, n_users: int, n_items: int, n_factors: int, mean: float, reg: float):
        self.n_users, self.n_items, self.width = n_users, n_items, n_factors + 1
        self.mean, self.reg = mean, reg
        self._last: tuple[Array, tuple[Array, ...], float, Array] | None = None  # x, batch, f, g

    def unpack(self, x: Array) -> tuple[Array, Array]:
        """U (n_users, k + 1) and V (n_items, k + 1), views of x."""
        split = self.n_users * self.width
        return x[:split].reshape(-1, self.width), x[split:].reshape(-1, self.width)

    def __call__(self, x: Array, users: Array, items: Array, ratings: Array) -> float:
        return self._evaluate(x, (users, items, ratings))[0]

    def grad(self, x: Array, users: Array, items: Array, ratings: Array) -> Array:
        return self._evaluate(x, (users, items, ratings))[1]

    def _evaluate(self, x: Array, batch: tuple[Array, Array, Array]) -> tuple[float, Array]:
        last = self._last
        if (
            last is not None
            and all(a is b for a, b in zip(last[1], batch, strict=True))
            and np.array_equal(last[0], x)
        ):
            return last[2], last[3]
        U, V = self.unpack(x)
        total, grad_U, grad_V = _factorization_kernels.factorization_loss(
            *batch, U, V, self.mean, self.reg
        )
        f, g = total / len(batch[2]), np.concatenate([grad_U.ravel(), grad_V.ravel()])
        g /= len(batch[2])
        self._last = (np.array(x), batch, f, g)  # the batch kept alive: no recycled ids
        return f, g

    def epoch_kernel(
        self, x: Array, state: Any, optimizer: Any, order: Any, batch_size: int | None, *data: Any
    ) -> tuple[Array, Any] | None:
        """One epoch of GD steps on the batches of ``order``, compiled (minimize's hook).

        The same updates as minimize's loop, x <- x - lr g on each batch's mean loss,
        with ``t`` advanced by the number of batches. None (use the loop) for any
        other optimizer, a schedule or clipping. ``x`` and ``state`` are not modified.
        """
        if type(optimizer) is not GD or callable(optimizer.lr) or optimizer.clip_norm:
            return None
        users, items, ratings = data
        size = len(order) if batch_size is None else int(batch_size)
        lr = float(optimizer.lr)
        params = np.array(x, dtype=np.float64)
        U, V = self.unpack(params)
        _factorization_kernels.factorization_epoch(
            users, items, ratings, U, V, self.mean, order, size, lr, self.reg
        )
        return params, state._replace(t=state.t + math.ceil(len(order) / size), lr=lr)


class MatrixFactorization(BaseEstimator):
    """Biased matrix factorisation (Funk SVD) for ratings, fitted by SGD through minimize.

    Predicts r_hat = mu + b_u + b_i + p_u . q_i and minimises the mean over the
    training ratings of e**2 / 2 + reg/2 (b_u**2 + b_i**2 + ||p_u||**2 + ||q_i||**2)
    (see :mod:`descend.models.factorization`).

    Parameters
    ----------
    n_factors : int, default=50
        Latent factors per user and item; 0 fits the biases alone.
    lr : float, default=0.03
        Learning rate of each step.
    reg : float, default=0.02
        L2 penalty per rating, on biases and factors alike.
    epochs : int, default=100
        Most passes over the ratings; early stopping (below) usually ends the run
        well before.
    batch_size : int or None, default=1
        Ratings per step: 1 is Funk's per-rating SGD, k mini-batches (the step on
        their mean loss), None the full batch (gradient descent proper, which with
        ``tol`` runs to the regularised optimum).
    init_scale : float, default=0.05
        Standard deviation of the normal initial factors (the biases start at 0).
        Factors that all start at 0 stay there: 0 fits the biases alone.
    method : str or descend.Optimizer, default="gd"
        The optimizer. Plain ``"gd"`` at a constant ``lr`` runs each epoch compiled;
        others run minimize's loop on dense gradients, which suits the full batch
        (``method="bb"``, ``batch_size=None`` needs no learning rate) but is slow one
        rating at a time.
    tol : float or None, default=None
        Stop when the gradient norm of the training objective is at most ``tol``
        (minimize's ``gtol``; SGD's noise rarely lets it, the full batch does).
        Running out of epochs with ``tol`` set warns (``ConvergenceWarning``), as
        does diverging. None leaves stopping to the rules below.
    n_iter_no_change : int or None, default=5
        Early stopping's patience. With ``validation`` in ``fit``: stop after this many
        epochs in a row without a lower validation RMSE. Without it (and with
        ``tol=None``): stop after this many epochs in a row in which the training
        objective has not fallen below (1 - ``min_improvement``) times its lowest.
        None never stops early.
    min_improvement : float or None, default=0.01
        The least relative fall of the training objective that counts as progress,
        for the rule above (0: any new lowest); None runs every epoch when there is
        no validation.
    rating_scale : (float, float) or None
        The lowest and highest rating; predictions are clipped to it. None: the
        lowest and highest training ratings.
    random_state : int, RandomState or None
        Seeds the initial factors and the shuffling.

    Attributes
    ----------
    user_ids_, item_ids_ : ndarray
        The distinct training ids, sorted: row k of the parameters is id k (integers
        or strings, as given; after ``fit(R)``, R's rows and columns that hold ratings).
    global_mean_ : float
        mu, the mean training rating.
    user_bias_, item_bias_ : ndarray of shape (n_users,), (n_items,)
    user_factors_, item_factors_ : ndarray of shape (n_users, n_factors), (n_items, n_factors)
    rating_scale_ : (float, float)
    n_iter_ : int
        Epochs run.
    best_epoch_ : int
        The epoch whose parameters the model holds: with ``validation``, the one of
        the lowest validation RMSE; else the last.
    history_ : dict of ndarray
        Per epoch: ``"train_rmse"`` (of the raw predictions), ``"time"`` (seconds
        since the start) and, with ``validation``, ``"validation_rmse"`` (of the
        clipped predictions).
    result_ : descend.Result
        minimize's result: status, message, and its history of the objective and the
        gradient norm per epoch.

    Notes
    -----
    ``fit(users, items, ratings)`` takes three parallel arrays; ``fit(X, ratings)``
    with X of shape (n, 2), columns [user, item], is the same and fits scikit-learn's
    tools (``cross_val_score``, ``GridSearchCV``); ``predict`` and ``score`` take both
    forms too. ``fit(R)`` (and ``score(R)``, ``validation=R``) takes a SciPy sparse
    users x items matrix whose stored entries are the ratings, explicit zeros
    included; its ids are R's row and column indices. Ids are integers (Python or
    NumPy, or integral floats) or strings, mapped to rows, of one kind per column in a
    fit: ``0`` and ``"0"`` together, None, NaN, fractional floats and other objects
    are refused, and so are ids of another kind than the fit's in later calls (a string
    on a model fitted with integer ids is not taken for an unseen id). ``score``
    returns the negative RMSE (greater is better), not R^2.

    Surprise's ``SVD`` makes the same updates at lr=0.005, reg=0.02 for 20 epochs
    (from factors of scale 0.1). The defaults here take six times larger steps from
    smaller factors, until the training objective stalls: on a small set (400 x 300,
    18,000 ratings of rank 4, ``n_factors=4``) they end within 2% of alternating least
    squares on the same objective (ten epochs at lr 0.05, the previous defaults, ended
    25% above it); on :func:`descend.datasets.make_ratings` (MovieLens-1M's shape, 50
    factors, 80/20 split) they pass Surprise's 0.869 test RMSE after 4 epochs and end
    at 0.742 after 25 (``benchmarks/recommender.py``). With few ratings per user and
    many factors, more epochs overfit that the training objective cannot see: pass
    ``validation=`` to stop on held-out ratings instead.

    Examples
    --------
    >>> from descend.datasets import make_ratings
    >>> from descend.models.factorization import MatrixFactorization
    >>> data = make_ratings(300, 200, 20_000, n_factors=5, min_user_ratings=10, seed=0)
    >>> train, test = data.split(0.2, seed=0)
    >>> model = MatrixFactorization(n_factors=5, random_state=0)
    >>> model = model.fit(train.users, train.items, train.ratings)
    >>> round(-model.score(test.users, test.items, test.ratings), 2), round(test.floor, 2)
    (0.63, 0.54)
    >>> model.n_iter_, model.result_.status  # the training objective stalled
    (20, <Status.STOPPED: 'stopped'>)
    >>> model.predict([0, 10**6], [0, 0]).round(2)  # a known user, and one never seen
    array([3.85, 4.21])
    >>> model.recommend(0, k=3)  # the items user 0 has not rated that it should like best
    array([115, 175,  97])
    """

    def __init__(
        self,
        n_factors: int = 50,
        *,
        lr: float = 0.03,
        reg: float = 0.02,
        epochs: int = 100,
        batch_size: int | None = 1,
        init_scale: float = 0.05,
        method: str | Optimizer = "gd",
        tol: float | None = None,
        n_iter_no_change: int | None = 5,
        min_improvement: float | None = 1e-2,
        rating_scale: tuple[float, float] | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_factors = n_factors
        self.lr = lr
        self.reg = reg
        self.epochs = epochs
        self.batch_size = batch_size
        self.init_scale = init_scale
        self.method = method
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.min_improvement = min_improvement
        self.rating_scale = rating_scale
        self.random_state = random_state

    def fit(
        self, users: Any, items: Any = None, ratings: Any = None, *, validation: Any = None
    ) -> MatrixFactorization:
        """Fit to the ratings, from small random factors and zero biases.

        Parameters
        ----------
        users, items : array-like of shape (n,)
            Who rated what: integer or string ids, one kind per column. Or
            ``fit(X, ratings)`` with X of shape (n, 2), columns [user, item]; or
            ``fit(R)`` with R a SciPy sparse users x items matrix of ratings.
        ratings : array-like of shape (n,)
            Finite numbers.
        validation : tuple or sparse matrix, optional
            ``(users, items, ratings)`` (or ``(X, ratings)``, or R) held out: its RMSE is
            recorded after every epoch, the run stops after ``n_iter_no_change`` epochs
            without a new lowest, and the model keeps the parameters of the lowest.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Empty or mismatched arrays, non-finite ratings, missing or fractional ids,
            bad hyperparameters.
        TypeError
            Ids that mix integers and strings, or are neither; validation ids of
            another kind than the fit's.
        """
        self._check_params()
        users, items, ratings = _triplets(users, items, ratings, "fit")
        ratings = _ratings("ratings", ratings)
        user_ids, u = _ids.index(users)
        item_ids, i = _ids.index(items)
        if np.any(u[1:] < u[:-1]):  # grouped by user: a full pass then reads U in order
            rows = np.argsort(u, kind="stable")
            u, i, ratings = u[rows], i[rows], ratings[rows]
        held_out = None if validation is None else _held_out(validation, user_ids, item_ids)
        n_users, n_items, k = len(user_ids), len(item_ids), self.n_factors
        mean = float(ratings.mean())
        low, high = self.rating_scale or (ratings.min(), ratings.max())
        scale = (float(low), float(high))

        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
        objective = _Objective(n_users, n_items, k, mean, self.reg)
        x0 = rng.normal(0.0, self.init_scale, (n_users + n_items) * (k + 1))
        U0, V0 = objective.unpack(x0)
        U0[:, 0] = V0[:, 0] = 0.0  # biases start at zero
        counts_u = np.bincount(u, minlength=n_users)
        counts = (counts_u, np.bincount(i, minlength=n_items))
        # Without validation or tol, the run ends when the training objective stalls.
        stall = None if self.tol is not None else self.min_improvement
        monitor = _Monitor(objective, counts, held_out, scale, self.n_iter_no_change, stall)
        res = minimize(
            objective,
            x0,
            self.method,
            grad=objective.grad,
            lr=self.lr,
            data=(u, i, ratings),
            batch_size=None if self.batch_size is None else min(self.batch_size, len(ratings)),
            epochs=self.epochs,
            seed=rng,
            gtol=self.tol,
            callback=monitor,
        )
        if res.status == "stopped" and monitor.why:  # the callback's stop, in its words
            res = dataclasses.replace(res, message=monitor.why)
        # tol=None asks for all the epochs: running out of them is no failure then.
        if res.status == "diverged" or (res.status == "max_iter" and self.tol is not None):
            warnings.warn(
                f"MatrixFactorization did not converge: {res.message}",
                ConvergenceWarning,
                stacklevel=2,
            )

        self.user_ids_, self.item_ids_, self.global_mean_, self.rating_scale_ = (
            user_ids, item_ids, mean, scale,
        )  # fmt: skip
        self._seen = (np.concatenate([[0], np.cumsum(counts_u)]), i)  # CSR: items per user
        self.result_ = res
        self.n_iter_ = res.nepoch or 0
        self.history_ = {name: np.array(values) for name, values in monitor.history.items()}
        kept = res.x if monitor.best_x is None else monitor.best_x
        self.best_epoch_ = self.n_iter_ if monitor.best_x is None else monitor.best_epoch
        self._U, self._V = objective.unpack(np.array(kept))
        self.user_bias_, self.user_factors_ = self._U[:, 0], self._U[:, 1:]
        self.item_bias_, self.item_factors_ = self._V[:, 0], self._V[:, 1:]
        return self

    def predict(self, users: Any, items: Any = None) -> Array:
        """Predicted ratings, clipped to ``rating_scale_``.

        An id not seen in training contributes nothing of its own: an unknown user
        gets mu + b_i, an unknown item mu + b_u, both unknown mu; but ids of another
        kind than the fit's (strings for integer ids) are a TypeError. Takes
        ``predict(users, items)`` or ``predict(X)`` with X of shape (n, 2).
        """
        check_is_fitted(self)
        users, items, _ = _triplets(users, items, None, "predict")
        return self._predict(users, items, "predict")

    def score(self, users: Any, items: Any = None, ratings: Any = None) -> float:
        """The negative RMSE of ``predict`` on the ratings (greater is better).

        Takes ``score(users, items, ratings)``, ``score(X, ratings)`` or ``score(R)``.
        """
        check_is_fitted(self)
        users, items, ratings = _triplets(users, items, ratings, "score")
        ratings = _ratings("ratings", ratings)
        return -datasets.rmse(self._predict(users, items, "score"), ratings)

    def recommend(self, user: Any, k: int = 10, exclude_seen: bool = True) -> Array:
        """The ids of the ``k`` items of highest predicted rating for ``user``, best first.

        Ranked by the raw prediction (before clipping, so that items predicted above
        the scale still rank); ties go to the lower item row. With ``exclude_seen``,
        items the user rated in training are left out, so fewer than ``k`` may come
        back. A user not seen in training gets the items of highest bias b_i; a user
        id of another kind than the fit's is a TypeError.
        """
        check_is_fitted(self)
        k = _validate.count("k", k, minimum=1)
        exclude_seen = _validate.boolean("exclude_seen", exclude_seen)
        ids = _ids.checked([user], "user id (user)", "recommend")
        row = _ids.rows(self.user_ids_, ids, "user ids", "recommend")[0]
        scores = self._V[:, 0].copy()
        if row >= 0:
            scores += self._V[:, 1:] @ self._U[row, 1:]
            if exclude_seen:
                starts, seen = self._seen
                scores[seen[starts[row] : starts[row + 1]]] = -np.inf
        candidates = np.flatnonzero(scores > -np.inf)
        ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
        return self.item_ids_[ranked[:k]]

    def _predict(self, users: Array, items: Array, call: str) -> Array:
        """``predict`` on checked ids; ``call`` names the caller in messages."""
        predicted = _factorization_kernels.factorization_predict(
            _ids.rows(self.user_ids_, users, "user ids", call),
            _ids.rows(self.item_ids_, items, "item ids", call), self._U, self._V,
            self.global_mean_,
        )  # fmt: skip
        return np.clip(predicted, *self.rating_scale_)

    def _check_params(self) -> None:
        """Check the hyperparameters minimize does not see (it checks method, lr, epochs)."""
        _validate.count("n_factors", self.n_factors)
        _validate.nonnegative("reg", self.reg, "; 0 is no penalty")
        _validate.count("epochs", self.epochs, minimum=1)
        if self.batch_size is not None:
            _validate.count("batch_size", self.batch_size, minimum=1)
        _validate.nonnegative("init_scale", self.init_scale, "; e.g. 0.05")
        if self.n_iter_no_change is not None:
            _validate.count("n_iter_no_change", self.n_iter_no_change, minimum=1)
        if self.min_improvement is not None:
            _validate.nonnegative("min_improvement", self.min_improvement, "; e.g. 0.01")
        scale = self.rating_scale
        if scale is not None:
            if not isinstance(scale, (tuple, list)) or len(scale) != 2:
                raise TypeError(f"rating_scale must be a pair (lowest, highest), got {scale!r}")
            low, high = (_validate.real_number("rating_scale", end) for end in scale)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(
                    f"rating_scale must be (lowest, highest) with finite lowest < highest, "
                    f"got {scale!r}; e.g. (1, 5)"
                )
