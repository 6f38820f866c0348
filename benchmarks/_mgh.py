"""The 35 problems of Moré, Garbow & Hillstrom (1981) as residuals and exact Jacobians.

J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing Unconstrained Optimization
Software", ACM Transactions on Mathematical Software 7(1):17–41, 1981. Each problem is a
sum of squares f(x) = Σ r_i(x)², with gradient 2 J(x)ᵀ r(x); ``Problem.number`` is the
paper's number, ``x0`` its standard starting point. The free sizes are fixed where the
paper gives f* for them: Jennrich–Sampson m = 10, Brown–Dennis m = 20, Biggs EXP6 m = 13,
Watson n = 6, penalty I and II n = 10, Chebyquad n = m = 10; elsewhere f* holds for any
size: Gulf m = 99, Box 3-D m = 10, the linear functions n = 10 and m = 20, the other
variable-size problems n = 10 (extended Powell n = 12).

``minima`` lists the minimum values the paper publishes for these sizes (the local ones
too: Freudenstein–Roth 48.9842, Bard 17.4286 and Kowalik–Osborne 1.02734e-3 as x runs off
to infinity, Biggs EXP6 5.65565e-3, Brown almost-linear 1), plus one that it does not:
the trigonometric function's local minimum 2.79506e-5 at n = 10, which most methods reach
from x0 and later test suites list (for example Gonum's optimize/functions). The paper
prints six digits, too few for a 1e-6 relative test at values above 1; so each minimum
also carries a value refined here: by Levenberg–Marquardt (SciPy's ``least_squares`` at
ftol = xtol = gtol = 1e-15, from x0 or from the printed minimiser), for the minima at
infinity on the limit model (Bard's is Σ (y_i - ȳ)²), for Biggs EXP6's local one as f at
the stationary point where two of its exponentials merge (x1 = x5, x3 = x6). The
self-check in ``test_set.py`` checks that each agrees with the printed figure to its
last digit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

Array = np.ndarray
SQRT5, SQRT10 = np.sqrt(5.0), np.sqrt(10.0)


@dataclass(frozen=True)
class Minimum:
    """A published minimum value: ``printed`` as the paper has it, ``f`` refined here."""

    f: float
    printed: str
    where: str = "global"

    def matches_printed(self) -> bool:
        """Whether ``f`` is within one unit of ``printed``'s last digit of ``printed``.

        One unit, not half: the paper rounds some values and truncates others (Meyer's
        87.945855 is printed 87.9458, Bard's 17.428693 as 17.4286).
        """
        exponent = Decimal(self.printed).as_tuple().exponent
        assert isinstance(exponent, int)
        return abs(self.f - float(self.printed)) < 10.0**exponent


@dataclass(frozen=True)
class Problem:
    number: int  # in MGH (1981)
    name: str
    x0: Array
    residuals: Callable[[Array], Array]
    jacobian: Callable[[Array], Array]
    minima: tuple[Minimum, ...]

    @property
    def n(self) -> int:
        return self.x0.size

    @property
    def m(self) -> int:
        return self.residuals(self.x0).size

    def f(self, x: Array) -> float:
        r = self.residuals(np.asarray(x, dtype=float))
        return float(r @ r)

    def grad(self, x: Array) -> Array:
        x = np.asarray(x, dtype=float)
        return 2.0 * (self.jacobian(x).T @ self.residuals(x))

    def reached(self, fx: float, rtol: float = 1e-6) -> Minimum | None:
        """The published minimum that ``fx`` is within rtol * max(1, |f*|) of, if any."""
        for minimum in self.minima:
            if abs(fx - minimum.f) <= rtol * max(1.0, abs(minimum.f)):
                return minimum
        return None


ZERO = Minimum(0.0, "0")


def _problem(number, name, x0, minima=(ZERO,)):
    """Decorator: a function returning (residuals, jacobian) becomes a Problem."""

    def make(build):
        residuals, jacobian = build()
        return Problem(number, name, np.array(x0, dtype=float), residuals, jacobian, minima)

    return make


# 1-19: fixed sizes -----------------------------------------------------------------------


@_problem(1, "Rosenbrock", [-1.2, 1.0])
def rosenbrock():
    def r(x):
        return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])

    def jac(x):
        return np.array([[-20 * x[0], 10.0], [-1.0, 0.0]])

    return r, jac


@_problem(
    2,
    "Freudenstein-Roth",
    [0.5, -2.0],
    (ZERO, Minimum(48.98425367924, "48.9842", "local, at (11.41, -0.8968)")),
)
def freudenstein_roth():
    def r(x):
        x1, x2 = x
        return np.array([-13 + x1 + ((5 - x2) * x2 - 2) * x2, -29 + x1 + ((x2 + 1) * x2 - 14) * x2])

    def jac(x):
        x2 = x[1]
        return np.array([[1.0, 10 * x2 - 3 * x2**2 - 2], [1.0, 3 * x2**2 + 2 * x2 - 14]])

    return r, jac


@_problem(3, "Powell badly scaled", [0.0, 1.0])
def powell_badly_scaled():
    def r(x):
        return np.array([1e4 * x[0] * x[1] - 1, np.exp(-x[0]) + np.exp(-x[1]) - 1.0001])

    def jac(x):
        return np.array([[1e4 * x[1], 1e4 * x[0]], [-np.exp(-x[0]), -np.exp(-x[1])]])

    return r, jac


@_problem(4, "Brown badly scaled", [1.0, 1.0])
def brown_badly_scaled():
    def r(x):
        return np.array([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2])

    def jac(x):
        return np.array([[1.0, 0.0], [0.0, 1.0], [x[1], x[0]]])

    return r, jac


@_problem(5, "Beale", [1.0, 1.0])
def beale():
    y, i = np.array([1.5, 2.25, 2.625]), np.arange(1.0, 4.0)

    def r(x):
        return y - x[0] * (1 - x[1] ** i)

    def jac(x):
        return np.column_stack([-(1 - x[1] ** i), x[0] * i * x[1] ** (i - 1)])

    return r, jac


@_problem(6, "Jennrich-Sampson", [0.3, 0.4], (Minimum(124.3621823556, "124.362"),))
def jennrich_sampson():
    i = np.arange(1.0, 11.0)  # m = 10

    def r(x):
        return 2 + 2 * i - (np.exp(i * x[0]) + np.exp(i * x[1]))

    def jac(x):
        return np.column_stack([-i * np.exp(i * x[0]), -i * np.exp(i * x[1])])

    return r, jac


@_problem(7, "helical valley", [-1.0, 0.0, 0.0])
def helical_valley():
    def theta(x1, x2):
        if x1 == 0:
            return 0.25 * np.sign(x2)
        return np.arctan(x2 / x1) / (2 * np.pi) + (0.5 if x1 < 0 else 0.0)

    def r(x):
        x1, x2, x3 = x
        return np.array([10 * (x3 - 10 * theta(x1, x2)), 10 * (np.hypot(x1, x2) - 1), x3])

    def jac(x):
        x1, x2, _ = x
        rho2 = x1**2 + x2**2
        rho = np.sqrt(rho2)
        dtheta = np.array([-x2, x1]) / (2 * np.pi * rho2)
        return np.array(
            [
                [-100 * dtheta[0], -100 * dtheta[1], 10.0],
                [10 * x1 / rho, 10 * x2 / rho, 0.0],
                [0.0, 0.0, 1.0],
            ]
        )

    return r, jac


BARD_Y = np.array(
    [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]
)


@_problem(
    8,
    "Bard",
    [1.0, 1.0, 1.0],
    (
        Minimum(8.214877306579e-3, "8.21487e-3"),
        Minimum(17.42869333333, "17.4286", "local, at (0.8406, -inf, -inf)"),
    ),
)
def bard():
    u = np.arange(1.0, 16.0)
    v = 16 - u
    w = np.minimum(u, v)

    def r(x):
        return BARD_Y - (x[0] + u / (v * x[1] + w * x[2]))

    def jac(x):
        d2 = (v * x[1] + w * x[2]) ** 2
        return np.column_stack([-np.ones_like(u), u * v / d2, u * w / d2])

    return r, jac


@_problem(9, "Gaussian", [0.4, 1.0, 0.0], (Minimum(1.127932769619e-8, "1.12793e-8"),))
def gaussian():
    t = (8 - np.arange(1.0, 16.0)) / 2
    half = [0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521]
    y = np.array([*half, 0.3989, *half[::-1]])

    def r(x):
        return x[0] * np.exp(-x[1] * (t - x[2]) ** 2 / 2) - y

    def jac(x):
        e = np.exp(-x[1] * (t - x[2]) ** 2 / 2)
        return np.column_stack([e, -x[0] * e * (t - x[2]) ** 2 / 2, x[0] * e * x[1] * (t - x[2])])

    return r, jac


@_problem(10, "Meyer", [0.02, 4000.0, 250.0], (Minimum(87.94585517050, "87.9458"),))
def meyer():
    t = 45 + 5 * np.arange(1.0, 17.0)
    y = np.array(
        [34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005, 5147, 4427,
         3820, 3307, 2872],
        dtype=float,
    )  # fmt: skip

    def r(x):
        return x[0] * np.exp(x[1] / (t + x[2])) - y

    def jac(x):
        d = t + x[2]
        e = np.exp(x[1] / d)
        return np.column_stack([e, x[0] * e / d, -x[0] * e * x[1] / d**2])

    return r, jac


@_problem(11, "Gulf research and development", [5.0, 2.5, 0.15])
def gulf():
    t = np.arange(1.0, 100.0) / 100  # m = 99
    y = 25 + (-50 * np.log(t)) ** (2 / 3)

    def r(x):
        return np.exp(-(np.abs(y - x[1]) ** x[2]) / x[0]) - t

    def jac(x):
        d = y - x[1]
        p = np.abs(d) ** x[2]
        e = np.exp(-p / x[0])
        return np.column_stack(
            [e * p / x[0] ** 2, e * x[2] * p / (x[0] * d), -e * p * np.log(np.abs(d)) / x[0]]
        )

    return r, jac


@_problem(12, "Box 3-D", [0.0, 10.0, 20.0])
def box_3d():
    t = 0.1 * np.arange(1.0, 11.0)  # m = 10
    c = np.exp(-t) - np.exp(-10 * t)

    def r(x):
        return np.exp(-t * x[0]) - np.exp(-t * x[1]) - x[2] * c

    def jac(x):
        return np.column_stack([-t * np.exp(-t * x[0]), t * np.exp(-t * x[1]), -c])

    return r, jac


def _powell_blocks(x):
    a, b, c, d = x.reshape(-1, 4).T
    return np.column_stack(
        [a + 10 * b, SQRT5 * (c - d), (b - 2 * c) ** 2, SQRT10 * (a - d) ** 2]
    ).ravel()


def _powell_jacobian(x):
    k = x.size // 4
    jac = np.zeros((x.size, x.size))
    for i in range(k):
        a, b, c, d = x[4 * i : 4 * i + 4]
        jac[4 * i : 4 * i + 4, 4 * i : 4 * i + 4] = [
            [1, 10, 0, 0],
            [0, 0, SQRT5, -SQRT5],
            [0, 2 * (b - 2 * c), -4 * (b - 2 * c), 0],
            [2 * SQRT10 * (a - d), 0, 0, -2 * SQRT10 * (a - d)],
        ]
    return jac


@_problem(13, "Powell singular", [3.0, -1.0, 0.0, 1.0])
def powell_singular():
    return _powell_blocks, _powell_jacobian


@_problem(14, "Wood", [-3.0, -1.0, -3.0, -1.0])
def wood():
    s90, s10 = np.sqrt(90.0), SQRT10

    def r(x):
        x1, x2, x3, x4 = x
        return np.array(
            [
                10 * (x2 - x1**2),
                1 - x1,
                s90 * (x4 - x3**2),
                1 - x3,
                s10 * (x2 + x4 - 2),
                (x2 - x4) / s10,
            ]
        )

    def jac(x):
        x1, _, x3, _ = x
        return np.array(
            [
                [-20 * x1, 10, 0, 0],
                [-1, 0, 0, 0],
                [0, 0, -2 * s90 * x3, s90],
                [0, 0, -1, 0],
                [0, s10, 0, s10],
                [0, 1 / s10, 0, -1 / s10],
            ]
        )

    return r, jac


@_problem(
    15,
    "Kowalik-Osborne",
    [0.25, 0.39, 0.415, 0.39],
    (
        Minimum(3.075056038492e-4, "3.07505e-4"),
        Minimum(1.027343048695e-3, "1.02734e-3", "local, at (+inf, -14.07, -inf, -inf)"),
    ),
)
def kowalik_osborne():
    y = np.array(
        [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
    )
    u = np.array([4, 2, 1, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625])

    def r(x):
        return y - x[0] * (u**2 + u * x[1]) / (u**2 + u * x[2] + x[3])

    def jac(x):
        num, den = u**2 + u * x[1], u**2 + u * x[2] + x[3]
        q = x[0] * num / den**2
        return np.column_stack([-num / den, -x[0] * u / den, q * u, q])

    return r, jac


@_problem(16, "Brown-Dennis", [25.0, 5.0, -5.0, -1.0], (Minimum(85822.20162636, "85822.2"),))
def brown_dennis():
    t = np.arange(1.0, 21.0) / 5  # m = 20

    def r(x):
        return (x[0] + t * x[1] - np.exp(t)) ** 2 + (x[2] + x[3] * np.sin(t) - np.cos(t)) ** 2

    def jac(x):
        a = x[0] + t * x[1] - np.exp(t)
        b = x[2] + x[3] * np.sin(t) - np.cos(t)
        return np.column_stack([2 * a, 2 * a * t, 2 * b, 2 * b * np.sin(t)])

    return r, jac


@_problem(
    17, "Osborne 1", [0.5, 1.5, -1.0, 0.01, 0.02], (Minimum(5.464894697482e-5, "5.46489e-5"),)
)
def osborne_1():
    t = 10.0 * np.arange(33)
    y = np.array(
        [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751, 0.718,
         0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490, 0.478, 0.467,
         0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406]
    )  # fmt: skip

    def r(x):
        return y - (x[0] + x[1] * np.exp(-t * x[3]) + x[2] * np.exp(-t * x[4]))

    def jac(x):
        e4, e5 = np.exp(-t * x[3]), np.exp(-t * x[4])
        return np.column_stack([-np.ones_like(t), -e4, -e5, x[1] * t * e4, x[2] * t * e5])

    return r, jac


@_problem(
    18,
    "Biggs EXP6",
    [1.0, 2.0, 1.0, 1.0, 1.0, 1.0],
    (ZERO, Minimum(5.655649925500e-3, "5.65565e-3", "local")),
)
def biggs_exp6():
    t = 0.1 * np.arange(1.0, 14.0)  # m = 13
    y = np.exp(-t) - 5 * np.exp(-10 * t) + 3 * np.exp(-4 * t)

    def r(x):
        return x[2] * np.exp(-t * x[0]) - x[3] * np.exp(-t * x[1]) + x[5] * np.exp(-t * x[4]) - y

    def jac(x):
        e1, e2, e5 = np.exp(-t * x[0]), np.exp(-t * x[1]), np.exp(-t * x[4])
        return np.column_stack([-t * x[2] * e1, t * x[3] * e2, e1, -e2, -t * x[5] * e5, e5])

    return r, jac


@_problem(
    19,
    "Osborne 2",
    [1.3, 0.65, 0.65, 0.7, 0.6, 3, 5, 7, 2, 4.5, 5.5],
    (Minimum(4.013773629354e-2, "4.01377e-2"),),
)
def osborne_2():
    t = np.arange(65) / 10
    y = np.array(
        [1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746, 0.679,
         0.608, 0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644,
         0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395, 0.375, 0.372, 0.391,
         0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668,
         0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739, 0.710, 0.729, 0.720, 0.636, 0.581,
         0.428, 0.292, 0.162, 0.098, 0.054]
    )  # fmt: skip

    def parts(x):
        # amplitudes x1..x4, the decay x5, widths x6..x8, centres x9..x11
        d = t[:, None] - x[8:11]  # (65, 3)
        bumps = np.exp(-(d**2) * x[5:8])
        return np.exp(-t * x[4]), d, bumps

    def r(x):
        e1, _, bumps = parts(x)
        return y - (x[0] * e1 + bumps @ x[1:4])

    def jac(x):
        e1, d, bumps = parts(x)
        jac = np.empty((t.size, 11))
        jac[:, 0] = -e1
        jac[:, 1:4] = -bumps
        jac[:, 4] = x[0] * t * e1
        jac[:, 5:8] = x[1:4] * d**2 * bumps
        jac[:, 8:11] = -x[1:4] * bumps * 2 * x[5:8] * d
        return jac

    return r, jac


# 20-35: variable sizes -------------------------------------------------------------------


@_problem(20, "Watson (n=6)", np.zeros(6), (Minimum(2.287670053552e-3, "2.28767e-3"),))
def watson():
    n = 6
    t = np.arange(1.0, 30.0) / 29
    k = np.arange(n)
    powers = t[:, None] ** k  # t^(j-1), j = 1..n
    slopes = np.zeros((t.size, n))
    slopes[:, 1:] = k[1:] * t[:, None] ** (k[1:] - 1)  # (j-1) t^(j-2)

    def r(x):
        s2 = powers @ x
        return np.concatenate([slopes @ x - s2**2 - 1, [x[0], x[1] - x[0] ** 2 - 1]])

    def jac(x):
        s2 = powers @ x
        last = np.zeros((2, n))
        last[0, 0], last[1, 0], last[1, 1] = 1.0, -2 * x[0], 1.0
        return np.vstack([slopes - 2 * s2[:, None] * powers, last])

    return r, jac


@_problem(21, "extended Rosenbrock (n=10)", np.tile([-1.2, 1.0], 5))
def extended_rosenbrock():
    def r(x):
        odd, even = x[0::2], x[1::2]
        return np.column_stack([10 * (even - odd**2), 1 - odd]).ravel()

    def jac(x):
        jac = np.zeros((x.size, x.size))
        i = np.arange(0, x.size, 2)
        jac[i, i], jac[i, i + 1], jac[i + 1, i] = -20 * x[i], 10.0, -1.0
        return jac

    return r, jac


@_problem(22, "extended Powell (n=12)", np.tile([3.0, -1.0, 0.0, 1.0], 3))
def extended_powell():
    return _powell_blocks, _powell_jacobian


@_problem(23, "penalty I (n=10)", np.arange(1.0, 11.0), (Minimum(7.087651467090e-5, "7.08765e-5"),))
def penalty_1():
    a = np.sqrt(1e-5)

    def r(x):
        return np.append(a * (x - 1), x @ x - 0.25)

    def jac(x):
        return np.vstack([a * np.eye(x.size), 2 * x])

    return r, jac


@_problem(24, "penalty II (n=10)", np.full(10, 0.5), (Minimum(2.936605374567e-4, "2.93660e-4"),))
def penalty_2():
    n, a = 10, np.sqrt(1e-5)
    i = np.arange(2.0, n + 1)
    y = np.exp(i / 10) + np.exp((i - 1) / 10)
    weights = n - np.arange(n)  # n - j + 1, j = 1..n

    def r(x):
        e = np.exp(x / 10)
        return np.concatenate(
            [
                [x[0] - 0.2],
                a * (e[1:] + e[:-1] - y),
                a * (e[1:] - np.exp(-0.1)),
                [weights @ x**2 - 1],
            ]
        )

    def jac(x):
        de = np.exp(x / 10) / 10
        jac = np.zeros((2 * n, n))
        jac[0, 0] = 1.0
        rows = np.arange(1, n)
        jac[rows, rows] = a * de[1:]
        jac[rows, rows - 1] = a * de[:-1]
        jac[rows + n - 1, rows] = a * de[1:]
        jac[-1] = 2 * weights * x
        return jac

    return r, jac


@_problem(25, "variably dimensioned (n=10)", 1 - np.arange(1.0, 11.0) / 10)
def variably_dimensioned():
    j = np.arange(1.0, 11.0)

    def r(x):
        s = j @ (x - 1)
        return np.concatenate([x - 1, [s, s**2]])

    def jac(x):
        s = j @ (x - 1)
        return np.vstack([np.eye(x.size), j, 2 * s * j])

    return r, jac


@_problem(
    26,
    "trigonometric (n=10)",
    np.full(10, 0.1),
    (ZERO, Minimum(2.795056121877e-5, "2.79506e-5", "local; not in MGH, in later suites")),
)
def trigonometric():
    i = np.arange(1.0, 11.0)

    def r(x):
        return x.size - np.cos(x).sum() + i * (1 - np.cos(x)) - np.sin(x)

    def jac(x):
        return np.tile(np.sin(x), (x.size, 1)) + np.diag(i * np.sin(x) - np.cos(x))

    return r, jac


@_problem(
    27,
    "Brown almost-linear (n=10)",
    np.full(10, 0.5),
    (ZERO, Minimum(1.0, "1", "local, at (0, ..., 0, n+1)")),
)
def brown_almost_linear():
    def r(x):
        n = x.size
        return np.append(x[:-1] + x.sum() - (n + 1), np.prod(x) - 1)

    def jac(x):
        n = x.size
        jac = np.ones((n, n)) + np.eye(n)
        left = np.concatenate([[1.0], np.cumprod(x[:-1])])  # x1 ... x_(j-1)
        right = np.append(np.cumprod(x[::-1])[::-1][1:], 1.0)  # x_(j+1) ... x_n
        jac[-1] = left * right
        return jac

    return r, jac


TEN_H = 1 / 11
TEN_T = np.arange(1.0, 11.0) * TEN_H


@_problem(28, "discrete boundary value (n=10)", TEN_T * (TEN_T - 1))
def discrete_boundary_value():
    h, t = TEN_H, TEN_T

    def r(x):
        padded = np.concatenate([[0.0], x, [0.0]])
        return 2 * x - padded[:-2] - padded[2:] + h**2 * (x + t + 1) ** 3 / 2

    def jac(x):
        n = x.size
        jac = np.diag(2 + 1.5 * h**2 * (x + t + 1) ** 2)
        jac -= np.eye(n, k=1) + np.eye(n, k=-1)
        return jac

    return r, jac


@_problem(29, "discrete integral equation (n=10)", TEN_T * (TEN_T - 1))
def discrete_integral_equation():
    h, t = TEN_H, TEN_T
    below = np.tril(np.ones((t.size, t.size), dtype=bool))  # j <= i
    kernel = np.where(below, np.outer(1 - t, t), np.outer(t, 1 - t))

    def r(x):
        return x + h / 2 * kernel @ (x + t + 1) ** 3

    def jac(x):
        return np.eye(x.size) + h / 2 * kernel * (3 * (x + t + 1) ** 2)

    return r, jac


@_problem(30, "Broyden tridiagonal (n=10)", np.full(10, -1.0))
def broyden_tridiagonal():
    def r(x):
        padded = np.concatenate([[0.0], x, [0.0]])
        return (3 - 2 * x) * x - padded[:-2] - 2 * padded[2:] + 1

    def jac(x):
        n = x.size
        return np.diag(3 - 4 * x) - np.eye(n, k=-1) - 2 * np.eye(n, k=1)

    return r, jac


@_problem(31, "Broyden banded (n=10)", np.full(10, -1.0))
def broyden_banded():
    n, lower, upper = 10, 5, 1
    i, j = np.indices((n, n))
    band = ((j >= i - lower) & (j <= i + upper) & (j != i)).astype(float)

    def r(x):
        return x * (2 + 5 * x**2) + 1 - band @ (x * (1 + x))

    def jac(x):
        return np.diag(2 + 15 * x**2) - band * (1 + 2 * x)

    return r, jac


def _linear(matrix):
    def r(x):
        return matrix @ x - 1

    def jac(x):
        return matrix

    return r, jac


@_problem(32, "linear full rank (n=10, m=20)", np.ones(10), (Minimum(10.0, "10"),))
def linear_full_rank():
    n, m = 10, 20
    return _linear(np.eye(m, n) - 2 / m)


@_problem(33, "linear rank 1 (n=10, m=20)", np.ones(10), (Minimum(20 * 19 / (2 * 41), "4.634146"),))
def linear_rank_1():
    return _linear(np.outer(np.arange(1.0, 21.0), np.arange(1.0, 11.0)))


@_problem(
    34,
    "linear rank 1, zero rows/cols (n=10, m=20)",
    np.ones(10),
    (Minimum((400 + 60 - 6) / (2 * 37), "6.135135"),),
)
def linear_rank_1_zero():
    matrix = np.outer(np.arange(20.0), np.arange(1.0, 11.0))  # (i - 1) j
    matrix[[0, -1]] = 0.0
    matrix[:, [0, -1]] = 0.0
    return _linear(matrix)


@_problem(
    35,
    "Chebyquad (n=10)",
    np.arange(1.0, 11.0) / 11,
    (Minimum(6.503954800882e-3, "6.50395e-3"),),
)
def chebyquad():
    m = 10  # = n
    i = np.arange(1, m + 1)
    integrals = np.zeros(m)  # of T_i over [0, 1]: 0 for odd i, -1 / (i^2 - 1) for even
    integrals[1::2] = -1.0 / (i[1::2] ** 2 - 1.0)

    def chebyshev(x):
        """T_k and T_k' of the shifted polynomials at each x_j, k = 0..m: (m+1, n)."""
        s = 2 * x - 1
        T, dT = np.empty((m + 1, x.size)), np.empty((m + 1, x.size))
        T[0], T[1], dT[0], dT[1] = 1.0, s, 0.0, 2.0
        for k in range(1, m):
            T[k + 1] = 2 * s * T[k] - T[k - 1]
            dT[k + 1] = 4 * T[k] + 2 * s * dT[k] - dT[k - 1]
        return T, dT

    def r(x):
        return chebyshev(x)[0][1:].mean(axis=1) - integrals

    def jac(x):
        return chebyshev(x)[1][1:] / x.size

    return r, jac


PROBLEMS: tuple[Problem, ...] = (
    rosenbrock, freudenstein_roth, powell_badly_scaled, brown_badly_scaled, beale,
    jennrich_sampson, helical_valley, bard, gaussian, meyer, gulf, box_3d, powell_singular,
    wood, kowalik_osborne, brown_dennis, osborne_1, biggs_exp6, osborne_2, watson,
    extended_rosenbrock, extended_powell, penalty_1, penalty_2, variably_dimensioned,
    trigonometric, brown_almost_linear, discrete_boundary_value, discrete_integral_equation,
    broyden_tridiagonal, broyden_banded, linear_full_rank, linear_rank_1, linear_rank_1_zero,
    chebyquad,
)  # fmt: skip
