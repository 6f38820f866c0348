"""Runs about runs: the diagnosis of a failed run, the learning-rate finder, sweeps and
restarts.

May import: descend.core and descend.gradients.
"""
