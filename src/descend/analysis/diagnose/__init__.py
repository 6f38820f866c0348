"""Why a run failed and what to do: findings read from the history, checked by probes.

Importing this package registers the diagnosis as the loop's adviser
(:mod:`.advice`), so that a failed run's message ends with its main finding.
"""

from . import advice as _advice  # noqa: F401  (registers the adviser)
from .diagnosis import Diagnosis, Finding
from .findings import diagnose

__all__ = ["Diagnosis", "Finding", "diagnose"]
