"""The loop and what it calls on every update: minimize, the optimizers, schedules,
projections, stopping rules, batches, checkpoints and the result.

May import: descend.gradients (and the shared _validate, _types, _progress). Layers above
that the loop must reach register themselves in :mod:`descend.core.extensions`.
"""
