"""Completing a ratings matrix: three people, four films, three ratings missing.

Each rating is modelled as mu + b_u + b_i + p_u . q_i (a mean, a bias per person and per
film, and two latent factors each), fitted by minimising the mean over the known ratings
of e**2 / 2 + reg/2 (b_u**2 + b_i**2 + |p_u|**2 + |q_i|**2). With nine ratings and
twenty-one parameters the penalty is what keeps the answer sensible; and on so little
data there is no need for SGD: full-batch Barzilai-Borwein steps run it to the
regularised optimum, and the run says so. The missing entries are the predictions,
clipped to the 1-5 scale.

Run: python examples/recommender.py
"""

import numpy as np

from descend.models import MatrixFactorization

people = ["alice", "bob", "carol"]
films = ["Alien", "Brazil", "Casablanca", "Dune"]
R = np.array([
    [5, 3, np.nan, 1],
    [4, np.nan, 1, 1],
    [1, 1, 5, np.nan],
])  # fmt: skip

rows, cols = np.nonzero(~np.isnan(R))
model = MatrixFactorization(
    n_factors=2, reg=0.1, batch_size=None, method="bb", tol=1e-10, epochs=10_000, random_state=0
)
model.fit(np.array(people)[rows], np.array(films)[cols], R[rows, cols])
print(f"The run: {model.result_.message}\n")

completed = model.predict(np.repeat(people, len(films)), np.tile(films, len(people)))
completed = completed.reshape(len(people), len(films))
print(f"{'':8}" + "".join(f"{film:>12}" for film in films))
for person, known, row in zip(people, R, completed, strict=True):
    cells = (f"{v:.2f}" if np.isnan(k) else f"{k:.0f}" for k, v in zip(known, row, strict=True))
    marked = (c + ("*" if np.isnan(k) else " ") for c, k in zip(cells, known, strict=True))
    print(f"{person:8}" + "".join(f"{cell:>12}" for cell in marked))
print("\n* predicted (clipped to the 1-5 scale); the others are the ratings given.")
for person in people:
    print(f"Recommended for {person}: {model.recommend(person, k=1)[0]}")
