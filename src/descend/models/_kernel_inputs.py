"""What the compiled kernels read as they are: C-contiguous float64 NumPy arrays.

The Numba kernels of :mod:`descend.models._linear_kernels` and
:mod:`descend.models._factorization_kernels` are compiled for one array type, and each
entry point hands anything else (a float32 or strided array, a list) to its NumPy
reference instead of copying it. This is that one test, shared by both.

>>> import numpy as np
>>> is_c_float64(np.zeros((2, 3)), np.zeros(3)), is_c_float64(np.zeros((2, 3)).T)
(True, False)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["is_c_float64"]


def is_c_float64(*arrays: Any) -> bool:
    """Whether every one of ``arrays`` is a C-contiguous float64 ndarray (a memmap is one)."""
    return all(
        isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous for a in arrays
    )
