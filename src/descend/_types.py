"""Type aliases shared across descend, kept in one place."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
Schedule = Callable[[int], float]
LearningRate = float | Schedule
Projection = Callable[[Array], Array]
