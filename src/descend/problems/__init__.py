"""Test functions with known minima, synthetic data sets and the digits experiment.

May import: descend.core and descend.gradients.
"""
