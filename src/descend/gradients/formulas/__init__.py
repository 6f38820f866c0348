"""Formulas: a safe syntax-tree check of the text, then exact derivatives by SymPy."""

from .formula import Formula, parse, parse_cached

__all__ = ["Formula", "parse", "parse_cached"]
