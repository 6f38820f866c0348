"""What the user gave, turned into a value and a gradient: the objective, numeric
differences and formulas with exact symbolic derivatives.

May import: no other layer (only the shared _validate and _types).
"""
