"""Formulas: a safe syntax-tree check of the text, then exact derivatives by SymPy."""

from .formula import Formula, parse

__all__ = ["Formula", "parse"]
