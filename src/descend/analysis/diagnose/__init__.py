"""Why a run failed and what to do: findings read from the history, checked by probes."""

from .findings import Diagnosis, Finding, diagnose

__all__ = ["Diagnosis", "Finding", "diagnose"]
