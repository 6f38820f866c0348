"""The parts of the linear estimators' docstrings that describe the parameters and
fitted attributes of :class:`descend.models._linear_base._LinearModel`, which they share:
written once here, and formatted into each estimator's docstring by
:mod:`descend.models.linear`.

>>> from descend.models import LinearRegression
>>> "early_stopping : bool" in LinearRegression.__doc__
True
"""

__all__ = ["_ATTRIBUTES", "_PARAMETERS"]

_PARAMETERS = """
    method : str or descend.Optimizer, optional
        The optimizer: a name from ``descend.OPTIMIZERS`` or an object such as
        ``descend.Momentum(lr=0.01, momentum=0.9)``. None (the default) is L-BFGS on
        the full batch, which needs no learning rate, and plain SGD (``"gd"``, its
        lr 0.01 unless ``lr`` says) with a ``batch_size`` or an ``lr``. A line search
        (``"armijo"``, ``"bb"``) on mini-batches warns that its searches chase batch
        noise; ``"lbfgs"`` refuses them.
    lr : float or callable, optional
        Learning rate or schedule, passed to the optimizer (default: its own).
    batch_size : int, optional
        Samples per update; None (the default) is the full batch. Capped at n.
    epochs : int, default=1000
        Most passes over the data.
    alpha : float
        L2 penalty (alpha/2) ||W||^2 added to the mean loss, on the coefficients in
        the user's units (``coef_``) whether or not ``scale`` is on, as scikit-learn's
        ``Ridge``; the intercept is not penalised. A column in small units needs a
        large coefficient, which the penalty then weighs heavily: standardise the
        data yourself (``StandardScaler``) to penalise every column alike.
    fit_intercept : bool, default=True
        Fit b; with False the model is z = W x.
    scale : bool, default=True
        Fit in standardised coordinates: each column shifted by its mean (with
        ``fit_intercept``) and divided by sqrt(variance + alpha), the square root of
        the ridge Hessian's diagonal, from up to about 8,192 evenly spaced rows of X
        (constant columns left alone). The model, its minimiser and ``coef_`` stay in
        the user's units, and predictions are the same; only the conditioning
        changes, so that the units of a column no longer decide whether the fit
        converges. X is never copied. False optimises the user's coefficients
        directly (and warns when the columns' scales differ by more than 100x or the
        fit ends far from its optimum).
    tol : float or None, default=1e-4
        Stop when the gradient norm of the training loss is at most ``tol``, measured
        in standardised units (the slope per standard deviation of each column) with
        ``scale`` or without it; with ``early_stopping``, the least improvement of the
        validation score that counts. None runs all ``epochs``, and running out of
        them is then no cause to warn.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for classifiers) and
        stop when its score (``score``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs in a row. The weights are those of the last epoch.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    random_state : int, RandomState or None
        Seeds the shuffling of mini-batches and the validation split.
    persist : bool, default=False
        With Dask arrays X and y, keep them in the cluster's memory for the fit (they
        must fit); by default every pass reads them afresh, block by block.
"""

_ATTRIBUTES = """
    n_iter_ : int
        Epochs run (summed over ``partial_fit`` calls since the first).
    result_ : descend.Result
        The last call of :func:`descend.minimize`: status, message, ``nit``, ``nepoch``.
        With ``scale``, its ``x`` and ``grad`` are in the standardised coordinates.
    history_ : descend.History
        Its history, one point per epoch: training loss, gradient norm, step size, time,
        and the packed parameters ``[coef_.ravel(), intercept_]`` (in the user's units)
        when they are few.
    validation_scores_ : list of float or None
        With ``early_stopping``, the validation score after each epoch; else None.
    best_validation_score_ : float or None
        With ``early_stopping``, the best of them; else None.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X has string column names.
"""
