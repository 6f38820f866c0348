"""Pictures: contour paths, loss curves, grids, animations, the HTML report and the demo.

May import: every layer below it (not the cli).
"""
