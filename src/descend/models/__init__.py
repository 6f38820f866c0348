"""Models fitted by :func:`descend.minimize`: scikit-learn estimators, a recommender and
portfolios.

Imported on its own, ``import descend.models``, so that ``import descend`` never
pays for scikit-learn. May import: descend.core, gradients, engines and problems.
Needs the ``models`` extra: ``pip install "descend[models]"``.

>>> from descend.models import LinearRegression
>>> LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0]).predict([[3.0]]).round(4)
array([7.])
"""

from __future__ import annotations

try:
    import sklearn
except ImportError as error:  # pragma: no cover - sklearn is in the dev extra
    raise ImportError('descend.models needs scikit-learn: pip install "descend[models]"') from error

try:  # validate_data and __sklearn_tags__ arrived together, in scikit-learn 1.6
    from sklearn.utils.validation import validate_data  # noqa: F401
except ImportError as error:  # pragma: no cover
    raise ImportError(
        f"descend.models needs scikit-learn >= 1.6, found {sklearn.__version__}; "
        "pip install -U scikit-learn"
    ) from error

from .factorization import MatrixFactorization
from .linear import LinearClassifier, LinearRegression, LogisticRegression
from .portfolio import Frontier, Portfolio, efficient_frontier, min_variance_portfolio

__all__ = [
    "Frontier",
    "LinearClassifier",
    "LinearRegression",
    "LogisticRegression",
    "MatrixFactorization",
    "Portfolio",
    "efficient_frontier",
    "min_variance_portfolio",
]
