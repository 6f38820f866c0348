"""Formulas: hand-derived derivatives, a table of hostile inputs, and fuzzing.

The parser is a security boundary, so most of this file is about what it refuses: every
hostile input must fail with a ValueError that names ``formula``, the construct and its
position, before SymPy sees it, and quickly. Derivatives are checked against hand
derivations and, for random formulas, against complex-step differentiation of the value.
"""

from __future__ import annotations

import itertools
import math
import pickle
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import sympy  # imported here, so that no timed test pays for importing it
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from descend.gradients.formulas import Formula, parse, parse_cached
from descend.gradients.formulas.parser import MAX_DEPTH, MAX_LENGTH
from descend.gradients.numeric import numeric_grad

E = math.e


def sech2(t):
    return 1 / math.cosh(t) ** 2


# (formula, point, f, gradient, Hessian), all derived by hand.
HAND = [
    (
        "exp(x)*sin(y) + 3*y**2",
        [0.5, -1.2],
        lambda x, y: math.exp(x) * math.sin(y) + 3 * y**2,
        lambda x, y: [math.exp(x) * math.sin(y), math.exp(x) * math.cos(y) + 6 * y],
        lambda x, y: [
            [math.exp(x) * math.sin(y), math.exp(x) * math.cos(y)],
            [math.exp(x) * math.cos(y), -math.exp(x) * math.sin(y) + 6],
        ],
    ),
    (
        "(x-1)**2 + 3*y**2",
        [3.0, 4.0],
        lambda x, y: (x - 1) ** 2 + 3 * y**2,
        lambda x, y: [2 * (x - 1), 6 * y],
        lambda x, y: [[2, 0], [0, 6]],
    ),
    (
        "(1 - x)**2 + 100*(y - x**2)**2",  # Rosenbrock
        [-1.2, 1.0],
        lambda x, y: 100 * (y - x**2) ** 2 + (1 - x) ** 2,
        lambda x, y: [-400 * x * (y - x**2) - 2 * (1 - x), 200 * (y - x**2)],
        lambda x, y: [[1200 * x**2 - 400 * y + 2, -400 * x], [-400 * x, 200]],
    ),
    (
        "log(x**2 + y**2)",
        [0.7, -1.9],
        lambda x, y: math.log(x**2 + y**2),
        lambda x, y: [2 * x / (x**2 + y**2), 2 * y / (x**2 + y**2)],
        lambda x, y: [
            [2 * (y**2 - x**2) / (x**2 + y**2) ** 2, -4 * x * y / (x**2 + y**2) ** 2],
            [-4 * x * y / (x**2 + y**2) ** 2, 2 * (x**2 - y**2) / (x**2 + y**2) ** 2],
        ],
    ),
    (
        "sqrt(x) + abs(y - 2)",
        [4.0, 1.0],
        lambda x, y: math.sqrt(x) + abs(y - 2),
        lambda x, y: [1 / (2 * math.sqrt(x)), -1.0],  # d|y-2|/dy = sign(y-2) = -1 at y=1
        lambda x, y: [[-1 / (4 * x**1.5), 0], [0, 0]],
    ),
    (
        "x/y - y/x",
        [2.0, -3.0],
        lambda x, y: x / y - y / x,
        lambda x, y: [1 / y + y / x**2, -x / y**2 - 1 / x],
        lambda x, y: [[-2 * y / x**3, -1 / y**2 + 1 / x**2], [-1 / y**2 + 1 / x**2, 2 * x / y**3]],
    ),
    (
        "arctan(x) + cosh(x*y)",
        [0.3, 1.5],
        lambda x, y: math.atan(x) + math.cosh(x * y),
        lambda x, y: [1 / (1 + x**2) + y * math.sinh(x * y), x * math.sinh(x * y)],
        lambda x, y: [
            [
                -2 * x / (1 + x**2) ** 2 + y**2 * math.cosh(x * y),
                math.sinh(x * y) + x * y * math.cosh(x * y),
            ],
            [math.sinh(x * y) + x * y * math.cosh(x * y), x**2 * math.cosh(x * y)],
        ],
    ),
    (
        "pi*x**2 + e**y",
        [1.5, 0.25],
        lambda x, y: math.pi * x**2 + E**y,
        lambda x, y: [2 * math.pi * x, E**y],
        lambda x, y: [[2 * math.pi, 0], [0, E**y]],
    ),
    (
        "log10(x) + log2(y)",
        [5.0, 3.0],
        lambda x, y: math.log10(x) + math.log2(y),
        lambda x, y: [1 / (x * math.log(10)), 1 / (y * math.log(2))],
        lambda x, y: [[-1 / (x**2 * math.log(10)), 0], [0, -1 / (y**2 * math.log(2))]],
    ),
    (
        "tanh(a*b)/c + asin(a/2)",
        [0.4, -0.8, 2.0],
        lambda a, b, c: math.tanh(a * b) / c + math.asin(a / 2),
        lambda a, b, c: [
            b * sech2(a * b) / c + 1 / (2 * math.sqrt(1 - a**2 / 4)),
            a * sech2(a * b) / c,
            -math.tanh(a * b) / c**2,
        ],
        None,
    ),
]


@pytest.mark.parametrize(("text", "point", "f", "grad", "hess"), HAND, ids=[c[0] for c in HAND])
def test_value_gradient_and_hessian_match_hand_derivations(text, point, f, grad, hess):
    formula = parse(text)
    assert isinstance(formula(point), float)
    assert formula(point) == pytest.approx(f(*point), rel=1e-12)
    np.testing.assert_allclose(formula.grad(point), grad(*point), rtol=1e-12, atol=1e-14)
    value, gradient = formula.value_and_grad(point)
    assert value == pytest.approx(f(*point), rel=1e-12)
    np.testing.assert_allclose(gradient, grad(*point), rtol=1e-12, atol=1e-14)
    if hess is not None:
        np.testing.assert_allclose(formula.hessian(point), hess(*point), rtol=1e-12, atol=1e-14)


def test_the_issue_example_prints_its_exact_gradient():
    formula = parse("exp(x)*sin(y) + 3*y**2")
    assert formula.variables == ("x", "y")
    assert formula.gradient_text == ("exp(x)*sin(y)", "6*y + exp(x)*cos(y)")
    x, y = formula.symbols
    assert formula.hessian_expr[1][1] == 6 - sympy.exp(x) * sympy.sin(y)
    assert repr(formula) == "Formula('exp(x)*sin(y) + 3*y**2', variables=('x', 'y'))"


def test_variables_in_order_of_first_appearance():
    assert parse("y*z + x - y + sin(pi*e*x)").variables == ("y", "z", "x")
    assert parse("b1 +\n  a_2 * (b1 - c)").variables == ("b1", "a_2", "c")  # line breaks too
    assert parse("x**2", variables=["x", "y"]).variables == ("x", "y")


def test_names_that_mean_something_to_sympy_or_python_are_plain_variables():
    # Symbols are made by name, never by sympify, and renamed in the generated code.
    formula = parse("sign*abs(x) + E*I + numpy**2 + oo + zoo + Dummy_1 + x0*print")
    assert formula.variables == (
        "sign",
        "x",
        "E",
        "I",
        "numpy",
        "oo",
        "zoo",
        "Dummy_1",
        "x0",
        "print",
    )
    point = np.array([1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    assert formula(point) == 1 * 2 + 3 * 4 + 5**2 + 6 + 7 + 8 + 9 * 10
    assert formula.grad(point).tolist() == [2, -1, 4, 3, 10, 1, 1, 1, 10, 9]


def test_variables_given_set_the_order_and_may_add_unused_ones():
    formula = parse("(x-1)**2 + 3*y**2", variables=("y", "x", "z"))
    np.testing.assert_allclose(formula.grad([4.0, 3.0, 7.0]), [24.0, 4.0, 0.0])
    assert formula.hessian([4.0, 3.0, 7.0]).tolist() == [[6, 0, 0], [0, 2, 0], [0, 0, 0]]
    constant = parse("3", variables=["x"])
    assert constant([5.0]) == 3.0 and constant.grad([5.0]).tolist() == [0.0]


BAD_VARIABLES = [
    ("x + y", ["x"], ValueError, r"formula uses 'y', missing from variables \('x',\); add it"),
    ("x + y + z", ["y"], ValueError, r"formula uses 'x', 'z', missing from variables"),
    ("x", "x", TypeError, r"variables must be a sequence of names such as \['x', 'y'\], got str"),
    ("x", 3, TypeError, r"variables must be a sequence of names .* got int 3"),
    ("x", ["x", 1], TypeError, r"variables\[1\] must be a str, got int 1"),
    ("x", ["x", "x"], ValueError, r"variables must be distinct, got 'x' twice"),
    ("x", [], ValueError, r"variables must name at least one variable"),
    ("x", ["x", "sin"], ValueError, r"variables\[1\] must be a name .* got 'sin'"),
    ("x", ["x", "pi"], ValueError, r"variables\[1\] must be a name .* got 'pi'"),
    ("x", ["x", "lambda"], ValueError, r"variables\[1\] must be a name .* got 'lambda'"),
    ("x", ["x", "_y"], ValueError, r"variables\[1\] must be a name .* got '_y'"),
    ("x", ["x", "2y"], ValueError, r"variables\[1\] must be a name .* got '2y'"),
    ("x", ["x", "a.b"], ValueError, r"variables\[1\] must be a name .* got 'a.b'"),
    ("3 + pi", None, ValueError, r"formula has no variables: '3 \+ pi' is a constant"),
]


@pytest.mark.parametrize(("text", "variables", "error", "message"), BAD_VARIABLES)
def test_bad_variables_are_named_in_the_message(text, variables, error, message):
    with pytest.raises(error, match=message):
        parse(text, variables)


def test_evaluation_is_vectorised_over_trailing_axes():
    formula = parse("exp(x)*sin(y) + 3*y**2")
    X, Y = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(-2, 2, 5))
    grid = np.stack([X, Y])
    values, grads = formula(grid), formula.grad(grid)
    assert values.shape == (5, 7) and grads.shape == (2, 5, 7)
    assert formula.hessian(grid).shape == (2, 2, 5, 7)
    for i, j in np.ndindex(5, 7):
        point = grid[:, i, j]
        assert values[i, j] == pytest.approx(formula(point), rel=1e-14)
        np.testing.assert_allclose(grads[:, i, j], formula.grad(point), rtol=1e-14)
    value, gradient = formula.value_and_grad(grid)
    np.testing.assert_allclose(value, values)
    np.testing.assert_allclose(gradient, grads)


def test_constant_parts_broadcast_to_the_grid():
    formula = parse("2*x + y**2")  # d/dx = 2 everywhere; d²/dxdy = 0
    grid = np.zeros((2, 3, 4))
    assert formula.grad(grid)[0].tolist() == np.full((3, 4), 2.0).tolist()
    assert formula.hessian(grid)[0, 1].shape == (3, 4)
    assert parse("x", variables=["x", "y"])(grid).shape == (3, 4)


def test_one_variable_formula_takes_a_scalar():
    cube = parse("x**3")
    assert cube(2.0) == 8.0 and isinstance(cube(2.0), float)
    assert cube.grad(2.0).shape == () and float(cube.grad(2.0)) == 12.0
    assert cube.hessian(2.0).tolist() == [[12.0]]


@pytest.mark.parametrize("x", [[1.0], [1.0, 2.0, 3.0], 1.0, np.zeros((3, 4))])
def test_x_of_the_wrong_shape_is_refused(x):
    with pytest.raises(ValueError, match=r"x must have shape \(2,\) or \(2, \.\.\.\) for 'x\*y'"):
        parse("x*y")(x)


def test_complex_step_agrees_with_the_exact_gradient():
    formula = parse("exp(x)*sin(y) + 3*y**2 / (1 + x**2)")
    point = np.array([0.3, -0.7])
    np.testing.assert_allclose(
        numeric_grad(formula, point, method="complex"), formula.grad(point), rtol=1e-14
    )


def test_formulas_pickle_as_their_text():
    formula = parse("(x-1)**2 + 3*y**2", variables=["y", "x"])
    clone = pickle.loads(pickle.dumps(formula))
    assert isinstance(clone, Formula) and repr(clone) == repr(formula)
    assert clone.grad([1.0, 2.0]).tolist() == formula.grad([1.0, 2.0]).tolist()


def test_parse_cached_parses_a_text_and_its_variables_once(monkeypatch):
    from descend.gradients.formulas import formula as module

    calls = []
    monkeypatch.setattr(module, "parse", lambda *args: calls.append(args) or parse(*args))
    text = f"(x - {time.time_ns()})**2 + y**4"  # a text no other test has kept
    first = parse_cached(text, ["x", "y"])
    assert parse_cached(text, ("x", "y")) is first  # a list and a tuple name the same order
    assert parse_cached(text, ["y", "x"]).variables == ("y", "x")
    assert len(calls) == 2
    assert repr(first) == repr(parse(text, ["x", "y"]))
    assert first.grad([1.0, 2.0]).tolist() == parse(text).grad([1.0, 2.0]).tolist()


def test_minimize_parses_a_formula_text_once_for_many_calls(monkeypatch):
    import descend as dd
    from descend.gradients.formulas import formula as module

    calls = []
    monkeypatch.setattr(module, "parse", lambda *args: calls.append(args) or parse(*args))
    text = f"(x - {time.time_ns() % 1000})**2 + 3*(y + 1)**2"
    runs = [dd.minimize(text, [0.0, 0.0], "gd", lr=0.1, max_iter=50) for _ in range(3)]
    assert len(calls) == 1
    assert all(r.x.tolist() == runs[0].x.tolist() for r in runs)


@pytest.mark.parametrize(
    ("text", "variables", "error"),
    [("x +", None, ValueError), ("x + y", "xy", TypeError), (3, None, TypeError),
     ("x + y", ["x", 1], TypeError), ("x + y", ["x"], ValueError)],
)  # fmt: skip
def test_parse_cached_refuses_what_parse_refuses_with_its_message(text, variables, error):
    with pytest.raises(error) as raised:
        parse(text, variables)
    with pytest.raises(error, match=re.escape(str(raised.value))):
        parse_cached(text, variables)


def test_importing_descend_does_not_import_sympy():
    code = "import sys, descend, descend.gradients.formulas; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# Hostile inputs ---------------------------------------------------------------------------

DEEP = MAX_DEPTH + 10
# (formula, a regex its ValueError must match). Each is refused before SymPy sees it,
# except the constants at the end, which SymPy builds and this module checks.
HOSTILE = [
    ("__import__('os').system('ls')", r"strings \(quotes\) at position 12"),
    ("__import__(x)", r"names starting with '_' \('__import__'\) at position 1"),
    ("__builtins__", r"names starting with '_'"),
    ("x.__class__", r"attribute access \('\.'\) at position 2"),
    ("sin.__globals__", r"attribute access \('\.'\) at position 4"),
    ("().__class__.__bases__", r"attribute access \('\.'\) at position 13"),
    ("x.real", r"attribute access"),
    ("(lambda: 1)()", r"lambdas, slices or assignment expressions \(':'\)"),
    ("[x for x in y]", r"indexing or lists"),
    ("(x for x in y)", r"comprehensions \('for'\) at position 1"),
    ('"abc"', r"strings"),
    ("b'x'", r"strings"),
    ('f"{x}"', r"strings"),
    ("x if y else z", r"conditional expressions \('if \.\.\. else'\)"),
    ("open('f')", r"strings"),
    ("open(x)", r"calls an unknown function 'open' at position 1; the functions are abs"),
    ("eval(x)", r"unknown function 'eval'"),
    ("getattr(x, y)", r"unknown function 'getattr'"),
    ("f(x)", r"unknown function 'f'"),
    ("sim(x)", r"unknown function 'sim' .*did you mean 'sin'\?"),
    ("sin(x)(y)", r"calls of anything but a function name"),
    ("pi(x)", r"'pi' as a function at position 1; it is a constant"),
    ("sin(x, y)", r"sin\(\) with 2 arguments at position 1; it takes exactly one"),
    ("sin()", r"sin\(\) with 0 arguments"),
    ("sin(x=1)", r"keyword arguments"),
    ("sin(**x)", r"keyword arguments"),
    ("sin(*x)", r"starred arguments \('\*'\) at position 5"),
    ("*x", r"syntax error at position 1"),
    ("sin + x", r"the function 'sin' without an argument at position 1; write sin\(x\)"),
    ("x; y", r"statements \(';'\) at position 2; a formula is a single expression"),
    ("x = 1", r"assignments, keyword arguments or comparisons \('='\) at position 3"),
    ("x := 1", r"assignment expressions"),
    ("x[0]", r"indexing or lists \('\[', '\]'\) at position 2"),
    ("x < y", r"comparisons \('<', '>'\)"),
    ("x in y", r"comparisons \('in', 'is', \.\.\.\) at position 3"),
    ("x and y", r"'and' / 'or' at position 3"),
    ("not x", r"'not' at position 1"),
    ("x ^ 2", r"'\^' \(bitwise xor in Python\) at position 3; write powers with \*\*"),
    ("x @ y", r"matrix products"),
    ("x // y", r"floor division \('//'\) at position 3; use / for division"),
    ("x % y", r"remainders \('%'\)"),
    ("~x", r"bitwise not"),
    ("x | y", r"bitwise or"),
    ("x, y", r"tuples \(','\)"),
    ("1j*x", r"complex constants at position 1"),
    ("True*x", r"the Python constant True"),
    ("None", r"the Python constant None"),
    ("...", r"the Python constant Ellipsis"),
    ("await x", r"'await'"),
    ("(yield x)", r"'yield'"),
    ("x # a comment", r"comments \('#'\)"),
    ("x \\\n + y", r"backslashes"),
    ("ｓｉｎ(x)", r"the character 'ｓ' at position 1"),
    ("x\x00", r"the character '\\x00' at position 2"),
    ("x\x1b[2J", r"the character '\\x1b'"),
    ("", r"formula must not be empty"),
    (" \n\t", r"formula must not be empty"),
    ("x" * (MAX_LENGTH + 1), rf"at most {MAX_LENGTH} characters, got {MAX_LENGTH + 1}"),
    ("x" * 10_000, r"at most 1000 characters, got 10000"),
    ("(" * DEEP + "x" + ")" * DEEP, rf"nested too deeply \(more than {MAX_DEPTH} levels\)"),
    ("-" * DEEP + "x", r"nested too deeply"),
    ("x" + "**x" * DEEP, r"nested too deeply"),
    ("sin(" * DEEP + "x" + ")" * DEEP, r"nested too deeply"),
    ("sin(x", r"'\(' that is never closed at position 4"),
    ("x)", r"'\)' that closes nothing at position 2"),
    ("(x-1)**2 +* y", r"syntax error at position 11 \(invalid syntax\)"),
    ("x +", r"syntax error at position 4"),
    ("1e999*x", r"numbers too large for floating point"),
    ("1" * 51 + "*x", r"integers with more than 50 digits"),
    (
        "9**9**9**9*x",
        r"constant that is too large for floating point .* position 4 \('9\*\*9\*\*9'\)",
    ),
    ("x**9**9**9**9", r"too large for floating point"),
    ("(2*x)**(9**9**9)", r"too large for floating point"),
    ("exp(x + 9**9**9*log(2))", r"too large for floating point"),
    ("exp(exp(exp(10)))*x", r"too large for floating point .* \('exp\(exp\(10\)\)'\)"),
    ("x/0", r"divides by zero at position 3 \('0'\)"),
    ("x/(1 - 1)", r"divides by zero"),
    ("log(0)*x", r"constant that is undefined"),
    ("tan(pi/2)*x", r"constant that is undefined"),
    ("asin(2)*x", r"constant that is undefined"),
    ("sqrt(-1)*x", r"constant that is not a real number"),
    ("(x - x - 8)**(1/3)*x", r"constant that is not a real number"),
    ("(-2)**x", r"negative number to a variable power at position 1"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE, ids=[repr(t[:24]) for t, _ in HOSTILE])
def test_hostile_input_is_refused_quickly_with_its_position(text, message):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message) as error:
        parse(text)
    assert time.perf_counter() - start < 1.0
    assert str(error.value).startswith("formula ")


def test_the_message_shows_the_line_with_a_caret():
    with pytest.raises(ValueError) as error:
        parse("(x-1)**2 +* y")
    assert str(error.value).splitlines()[1:] == ["  (x-1)**2 +* y", "            ^"]
    with pytest.raises(ValueError) as error:
        parse("x**2 +\n  y.imag")  # the line of the error, and the column within it
    assert str(error.value).splitlines() == [
        "formula may not use attribute access ('.') at position 11:",
        "    y.imag",
        "     ^",
    ]


@pytest.mark.parametrize("formula", [b"x", None, 3, ["x"], sympy.Symbol("x")])
def test_a_formula_must_be_a_str(formula):
    with pytest.raises(TypeError, match=r"formula must be a str such as '\(x-1\)\*\*2"):
        parse(formula)


def test_huge_numbers_in_a_formula_stay_fast_and_finite():
    start = time.perf_counter()
    power = parse("x**(10**40)")  # an exponent beyond EXACT_LIMIT becomes a float
    tiny = parse("2**-5000*x + (7/10**9)*x")
    assert time.perf_counter() - start < 1.0
    assert power([1.0]) == 1.0
    assert tiny.grad([1.0]).tolist() == pytest.approx([7e-9], rel=1e-14)
    assert parse("1_000*x + 0x10*y").grad([0.0, 0.0]).tolist() == [1000.0, 16.0]


# Fuzzing --------------------------------------------------------------------------------

TOKENS = [
    *"xyz0123456789.+-*/() ,_'[]=:;^%<>!@#~&|\\\"{}\n",
    *["**", "//", "e", "pi", "1e308", "1e-320", "j", "9**9**9", "sin", "cos", "tan", "exp"],
    *["log", "sqrt", "abs", "tanh", "asin", "arccos", "atan", "sinh", "cosh", "log2"],
    *["lambda", "import", "__import__", "__class__", "os", "eval", "if", "else", "for", "in"],
    *["and", "not", "None", "True", "yield", "await", ".real", "__", "0x", "1_0", 'f"'],
]


def _try(text):
    """Parse and, if that works, evaluate: only ValueError may come out."""
    try:
        formula = parse(text)
    except ValueError as error:
        assert str(error).startswith("formula ")
        return
    n = len(formula.variables)
    point = np.linspace(-2.3, 1.7, n)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert isinstance(formula(point), float)
        assert formula.grad(point).shape == (n,)
        assert formula(np.ones((n, 3))).shape == (3,)


# A deadline catches a hang; 5 s rather than the issue's 1 s keeps a busy CI machine from
# failing the run (the 1-s bound is asserted input by input in the table above).
FUZZ = settings(max_examples=300, deadline=5000, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=60))
def test_fuzz_any_text_gives_a_formula_or_a_value_error(text):
    _try(text)


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_fuzz_formula_like_text_gives_a_formula_or_a_value_error(text):
    _try(text)


def _trees():
    """Random formulas from the grammar: analytic, so complex-step differentiation works."""
    leaves = st.sampled_from(["x", "y", "z", "pi", "e", "2", "0.5", "3", "1.25"])
    unary = ["sin", "cos", "exp", "tanh", "atan", "sinh"]

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(inner, st.integers(0, 3)).map(lambda t: f"({t[0]})**{t[1]}"),
            st.tuples(st.sampled_from(unary), inner).map(lambda t: f"{t[0]}({t[1]})"),
            inner.map(lambda a: f"log(1 + ({a})**2)"),
            inner.map(lambda a: f"sqrt(2 + ({a})**2)"),
            inner.map(lambda a: f"-{a}"),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def _gradient_agrees(text, point):
    """The exact gradient at a point where it is finite, against complex steps of f."""
    try:
        formula = parse(text, variables=["x", "y", "z"])
    except ValueError:  # a constant part such as 1/(2 - 2) or exp(exp(exp(3)))
        return
    x = np.array(point)
    with np.errstate(all="ignore"):
        value, grad = formula(x), formula.grad(x)
        assume(math.isfinite(value) and np.all(np.isfinite(grad)) and np.abs(grad).max() < 1e8)
        reference = numeric_grad(formula, x, method="complex")
    assume(np.all(np.isfinite(reference)))
    np.testing.assert_allclose(grad, reference, rtol=1e-7, atol=1e-9 * (1 + abs(value)))


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(_trees(), st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_fuzz_exact_gradient_matches_complex_step(text, point):
    _gradient_agrees(text, point)


@pytest.mark.parametrize(
    ("text", "position"), [("(x-1)**2 + 3 y**2", 14), ("x y", 3), ("sin(x) cos(y)", 8)]
)
def test_a_missing_operator_is_pointed_at(text, position):
    with pytest.raises(
        ValueError, match=rf"at position {position} \(a missing operator\); write 3\*y"
    ):
        parse(text)


def test_too_many_variables_are_refused_before_any_derivative(monkeypatch):
    from descend.gradients.formulas import derivatives

    def never(*args):
        raise AssertionError("a derivative was built for a formula that is refused")

    monkeypatch.setattr(derivatives, "gradient", never)  # bound work, not a stopwatch
    text = "*".join(f"a{i}" for i in range(150))
    with pytest.raises(ValueError, match=r"formula has 150 variables, more than the 100"):
        parse(text)


@pytest.mark.parametrize("text", ["x*1e308*10", "x + 1e308 + 1e308", "1e200**2*x", "x/1e-320/1e10"])
def test_a_constant_beyond_the_largest_float_is_refused_in_products_and_sums(text):
    with pytest.raises(ValueError, match="too large for floating point"):
        parse(text)


def test_the_variable_limit_holds_for_an_iterator_read_only_as_far_as_needed():
    names = (f"a{i}" for i in itertools.count())  # never ends: only 101 are read
    with pytest.raises(ValueError, match="101 variables, more than the 100"):
        parse("a0 + a1", names)
    assert parse("x + 2*y", iter(["y", "x"])).variables == ("y", "x")


# min and max --------------------------------------------------------------------------------

MIN_MAX = [  # (formula, point, f, gradient, Hessian), by hand
    ("max(x, 0)**2 + 3*y", [1.5, 2.0], 8.25, [3.0, 3.0], [[2.0, 0.0], [0.0, 0.0]]),
    ("max(x, 0)**2 + 3*y", [-1.5, 2.0], 6.0, [0.0, 3.0], [[0.0, 0.0], [0.0, 0.0]]),
    ("min(x, 1, x*y)", [0.5, -1.0], -0.5, [-1.0, 0.5], [[0.0, 1.0], [1.0, 0.0]]),
    ("min(x, 1, x*y)", [2.0, 1.0], 1.0, [0.0, 0.0], [[0.0, 0.0], [0.0, 0.0]]),
    ("max(x, y)", [1.0, 1.0], 1.0, [0.5, 0.5], [[0.0, 0.0], [0.0, 0.0]]),  # a tie: the mean
    ("max(sin(x), cos(y))", [0.3, 0.2], math.cos(0.2), [0.0, -math.sin(0.2)], None),
    # Ties of three or more: each tied argument's slope weighs 1/t (t tied), so that the
    # slope is a subgradient (its weights sum to 1), not 1/2 each.
    ("max(x, y, z)", [1.0, 1.0, 1.0], 1.0, [1 / 3, 1 / 3, 1 / 3], None),
    ("min(x, y, z)", [2.0, 2.0, 5.0], 2.0, [0.5, 0.5, 0.0], None),
    ("max(x, y, 0)", [0.0, 0.0], 0.0, [1 / 3, 1 / 3], [[0.0, 0.0], [0.0, 0.0]]),
    ("max(max(x, y), 2*z)", [3.0, 3.0, 1.5], 3.0, [1 / 3, 1 / 3, 2 / 3], None),
    ("max(x, y, z)**2", [1.0, 1.0, 1.0], 1.0, [2 / 3] * 3, [[2 / 9] * 3] * 3),
    ("max(x, y, z)", [3.0, 1.0, 0.0], 3.0, [1.0, 0.0, 0.0], None),
]


@pytest.mark.parametrize(("text", "point", "f", "grad", "hess"), MIN_MAX)
def test_min_and_max_take_the_slope_of_the_argument_that_wins(text, point, f, grad, hess):
    formula = parse(text)
    assert formula(point) == pytest.approx(f, rel=1e-15)
    np.testing.assert_allclose(formula.grad(point), grad, rtol=1e-15, atol=0)
    if hess is not None:
        np.testing.assert_array_equal(formula.hessian(point), hess)


def test_min_and_max_are_vectorised_over_a_grid_with_constants():
    formula = parse("max(x, 0) + min(y, 1)")
    X, Y = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(0, 2, 3))
    np.testing.assert_array_equal(formula(np.stack([X, Y])), np.maximum(X, 0) + np.minimum(Y, 1))
    assert formula.grad(np.stack([X, Y])).shape == (2, 3, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max(x)", r"max\(\) of one argument or none at position 1; it takes two or more"),
        ("min()", r"min\(\) of one argument or none at position 1; it takes two or more"),
        ("sin(x, y)", r"sin\(\) with 2 arguments at position 1; it takes exactly one"),
        ("max + x", r"'max'"),
    ],
)
def test_min_and_max_need_two_arguments_and_are_not_variables(text, message):
    with pytest.raises(ValueError, match=message):
        parse(text)


def test_a_constant_min_or_max_is_valued_and_checked():
    assert parse("max(pi, 3)*x").grad([1.0]).tolist() == [math.pi]
    with pytest.raises(ValueError, match="constant"):
        parse("x + max(1, log(0))")


def test_a_square_at_one_point_is_its_grids_value_and_the_rounded_product():
    # A scalar's **2 would call C pow, a last bit off the rounded square now and then
    # (about 1 in 1,300 of these points); NumPy's arrays square by multiplying.
    f = parse("(x + y)**2 + 3*x**2 - 1/(x - 2*y)**2")
    rng = np.random.default_rng(5)
    points = rng.uniform(-10, 10, (2, 5000))
    grid = f(points)
    for k in range(points.shape[1]):
        x, y = points[:, k]
        assert f(points[:, k]) == grid[k]
        assert f(points[:, k]) == (x + y) * (x + y) + 3 * (x * x) - 1 / ((x - 2 * y) * (x - 2 * y))
