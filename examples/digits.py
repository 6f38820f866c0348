"""The digits classifier: zeros against ones by least squares and momentum descent.

A classic teaching experiment reproduced exactly (see descend.digits for the
set-up and seeds): a batch run, a single-sample run and a comparison of momenta,
with training and test error rates. Needs scikit-learn.

Run: python examples/digits.py
"""

from descend.problems import digits

for line in digits.report():
    print(line)
