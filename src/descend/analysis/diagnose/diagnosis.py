"""What :func:`~descend.diagnose` returns: findings, each a name, what was seen and what
to do, gathered into a Diagnosis, most important first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Diagnosis", "Finding"]


@dataclass(frozen=True)
class Finding:
    """One thing :func:`diagnose` found: a short name, what it saw, and what to do.

    >>> import descend as dd
    >>> res = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=1.1)
    >>> finding = dd.diagnose(res, lambda x: x**2, lambda x: 2 * x).main
    >>> finding.kind, finding.lr
    ('lr_too_large', 0.5)

    Attributes
    ----------
    kind : str
        A short name such as ``"lr_too_large"`` or ``"wrong_gradient_sign"``.
    message : str
        What was seen, in plain words with the numbers.
    suggestion : str
        What to do about it, e.g. ``"lr=0.5 (tried: f fell from 25 to 0 in 1 update)"``.
    lr : float or None
        The learning rate suggested, when the finding suggests one and a trial run with
        it made progress (without ``fun`` no trial runs, and none is suggested).
    """

    kind: str
    message: str
    suggestion: str
    lr: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}; {self.suggestion}"


@dataclass(frozen=True, repr=False)
class Diagnosis:
    """The findings about one run, most important first; ``main`` is the first.

    Iterating, ``len`` and indexing go over the findings; ``str`` lists them.

    >>> import descend as dd
    >>> res = dd.minimize(lambda x: x**2, 5.0, grad=lambda x: 2 * x, lr=0.1)
    >>> dd.diagnose(res)
    Diagnosis(converged)
    """

    findings: tuple[Finding, ...]

    @property
    def main(self) -> Finding:
        """The most important finding."""
        return self.findings[0]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The findings' kinds, in order."""
        return tuple(finding.kind for finding in self.findings)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __getitem__(self, index: int) -> Finding:
        return self.findings[index]

    def __str__(self) -> str:
        return "\n".join(f"{i}. {finding}" for i, finding in enumerate(self.findings, 1))

    def __repr__(self) -> str:
        return f"Diagnosis({', '.join(self.kinds)})"
