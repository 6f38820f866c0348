"""descend: gradient-based optimisation you can read."""
