"""Type aliases shared across descend, kept in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
Schedule = Callable[[int], float]
LearningRate = Union[float, Schedule]
Projection = Callable[[Array], Array]
