"""The safe reading of a formula: screened text, a checked syntax tree, a SymPy expression.

The parser is a security boundary, in three layers. The text is screened character by
character (quotes, brackets, ``;``, ``=``, ``:`` and the like go no further); Python's own
parser (:func:`ast.parse`, which builds a tree and runs nothing) reads what is left; and
every node of that tree must be a number, a name, ``+ - * / **``, a sign, or a call of a
function in :data:`FUNCTIONS` by name. The SymPy expression is then built node by node
from the checked tree: SymPy's string parser, which evaluates Python, is never called.

Integers above :data:`EXACT_LIMIT` (and fractions with larger terms) are kept as floats:
exact arithmetic on them can explode (``9**9**9`` has 370 million digits) and gains
nothing in a float64 result. Every constant must be a finite real number.

References
----------
SymPy's ``sympify`` and ``parse_expr`` call ``eval`` and are documented as unsafe on
untrusted input (https://docs.sympy.org/latest/modules/core.html#sympy.core.sympify.sympify);
this module uses neither.
"""

from __future__ import annotations

import ast
import io
import itertools
import keyword
import math
import re
import tokenize
import warnings
from collections.abc import Iterable, Sequence, Sized
from typing import Any, NoReturn

from descend._validate import closest

from .constants import NotFinite, approximate
from .messages import MAX_DEPTH, at, forbidden, position, too_deep

__all__ = [
    "CONSTANTS",
    "EXACT_LIMIT",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_VARIABLES",
    "read",
]

Expr = Any  # a sympy.Expr (SymPy ships no type information)

MAX_LENGTH = 1_000  # characters in a formula
# Variables in a formula: 100 is far beyond a formula typed by hand, and symbolic
# differentiation and code generation grow with their number (333 take ~6 s).
MAX_VARIABLES = 100
MAX_DIGITS = 50  # digits in an integer literal
EXACT_LIMIT = 1_000  # larger integers, numerators and denominators become floats

# Function name in a formula -> SymPy function; log10(a) and log2(a) are log(a, 10), log(a, 2).
FUNCTIONS = {
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "arcsin": "asin",
    "asin": "asin",
    "arccos": "acos",
    "acos": "acos",
    "arctan": "atan",
    "atan": "atan",
    "sinh": "sinh",
    "cosh": "cosh",
    "tanh": "tanh",
    "exp": "exp",
    "log": "log",
    "log10": "log",
    "log2": "log",
    "sqrt": "sqrt",
    "abs": "Abs",
    "min": "Min",
    "max": "Max",
}
_VARIADIC = frozenset({"min", "max"})  # functions of two or more arguments
_LOG_BASES = {"log10": 10, "log2": 2}
CONSTANTS = {"pi": "pi", "e": "E"}  # name in a formula -> SymPy constant

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_SPACE = " \t\n\r"
_ALLOWED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,+-*/()" + _SPACE
)
_HINT = "a formula has numbers, names, + - * / **, parentheses and functions such as sin(x)"

# What a forbidden character or node would do in Python; after "; ", how to fix it.
_CHARACTERS = {
    **dict.fromkeys("'\"", "strings (quotes)"),
    **dict.fromkeys("[]", "indexing or lists ('[', ']')"),
    **dict.fromkeys("{}", "sets or dicts ('{', '}')"),
    **dict.fromkeys("<>", "comparisons ('<', '>')"),
    ";": "statements (';'); a formula is a single expression",
    "=": "assignments, keyword arguments or comparisons ('='); a formula is one expression",
    ":": "lambdas, slices or assignment expressions (':')",
    "%": "remainders ('%')",
    "@": "matrix products or decorators ('@')",
    "^": "'^' (bitwise xor in Python); write powers with **",
    "~": "bitwise not ('~')",
    "&": "bitwise and ('&')",
    "|": "bitwise or ('|')",
    "!": "'!'",
    "#": "comments ('#')",
    "\\": "backslashes; a formula may span lines without them",
}
_REJECTED: dict[type, str] = {
    ast.Attribute: "attribute access ('.')",
    ast.Compare: "comparisons ('in', 'is', ...)",
    ast.BoolOp: "'and' / 'or'",
    ast.Not: "'not'",
    ast.IfExp: "conditional expressions ('if ... else')",
    ast.GeneratorExp: "comprehensions ('for')",
    ast.Starred: "starred arguments ('*')",
    ast.Tuple: "tuples (','); a formula is a single expression",
    ast.FloorDiv: "floor division ('//'); use / for division",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
}
_CHAINS = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}


def read(formula: Any, variables: Sequence[str] | None = None) -> tuple[str, tuple[str, ...], Expr]:
    """The checked text, the variables in ``x``'s order and the SymPy expression of
    ``formula``; every refusal is a TypeError or ValueError that points at the text."""
    text = _checked_text(formula)
    tree = _syntax_tree(text)
    order = _variables(text, _Checker(text).variables(tree), variables)
    return text, order, _Translator(text, order).expression(tree.body)


# Screening and parsing the text ---------------------------------------------------------


def _checked_text(formula: Any) -> str:
    """Type, length, characters and parentheses, before Python's parser sees the text."""
    if not isinstance(formula, str):
        raise TypeError(
            f"formula must be a str such as '(x-1)**2 + 3*y**2', got "
            f"{type(formula).__name__} {formula!r:.60}"
        )
    if len(formula) > MAX_LENGTH:
        raise ValueError(
            f"formula must have at most {MAX_LENGTH} characters, got {len(formula)}; "
            f"write a longer objective as a Python function"
        )
    if not formula.strip(_SPACE):
        raise ValueError(
            f"formula must not be empty, got {formula!r}; write an expression such as "
            f"'(x-1)**2 + 3*y**2'"
        )
    opened: list[int] = []
    for i, char in enumerate(formula):
        if char not in _ALLOWED:
            raise forbidden(formula, i, _CHARACTERS.get(char, f"the character {char!r}; {_HINT}"))
        if char == "(":
            opened.append(i)
            if len(opened) > MAX_DEPTH:
                raise ValueError(too_deep(formula, i))
        elif char == ")":
            if not opened:
                raise ValueError(f"formula has a ')' that closes nothing {at(formula, i)}")
            opened.pop()
    if opened:
        raise ValueError(f"formula has a '(' that is never closed {at(formula, opened[-1])}")
    return formula


def _syntax_tree(text: str) -> ast.Expression:
    # In parentheses, so that leading spaces and line breaks are allowed; the text's own
    # parentheses are balanced (checked above), so these pair with each other only.
    try:
        with warnings.catch_warnings():  # "1(x)" warns; as an error it says where and why
            warnings.simplefilter("error", SyntaxWarning)
            return ast.parse("(" + text + ")", mode="eval")
    except SyntaxError as error:
        index = position(text, error.lineno or 1, (error.offset or 1) - 1)
        fix = "write 2*x for a product" if "decimal literal" in error.msg else ""
        if "forgot a comma" in error.msg:  # "3 y": Python guesses a tuple; it is a product
            index = _missing_operator(text) or index
            error.msg, fix = "a missing operator", "write 3*y for a product"
        raise ValueError(f"formula has a syntax error {at(text, index, error.msg, fix)}") from None
    except (RecursionError, MemoryError):
        raise ValueError(too_deep(text)) from None


def _missing_operator(text: str) -> int | None:
    """Where two operands stand side by side ("3 y", "sin(x) cos(y)"), or None."""
    operand = (tokenize.NAME, tokenize.NUMBER)
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type in (*operand, tokenize.OP)
        ]
    except (tokenize.TokenError, SyntaxError):
        return None
    for a, b in itertools.pairwise(tokens):
        ends_operand = a.type in operand or a.string == ")"
        starts_operand = b.type in operand or (b.string == "(" and a.type != tokenize.NAME)
        if ends_operand and starts_operand:
            return position(text, b.start[0], b.start[1] + 1)  # position counts the wrapping "("
    return None


class _Checker:
    """Checks every node of the tree against the whitelist, iteratively, counting depth."""

    def __init__(self, text: str) -> None:
        self.text = text

    def variables(self, tree: ast.Expression) -> list[tuple[int, str]]:
        """``(index, name)`` of every use of a variable, in the order of the text."""
        found = []
        stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise ValueError(too_deep(self.text, self._index(node)))
            if isinstance(node, ast.BinOp) and isinstance(node.op, (*_CHAINS, ast.Pow)):
                # a + b + c is a chain, not a nesting: the left operand stays at this depth
                same = isinstance(node.left, ast.BinOp) and _CHAINS.get(
                    type(node.left.op), "left"
                ) == _CHAINS.get(type(node.op), "right")
                stack += [(node.right, depth + 1), (node.left, depth + (not same))]
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
                stack.append((node.operand, depth + 1))
            elif isinstance(node, ast.Call):
                stack += [(arg, depth + 1) for arg in reversed(self._call(node))]
            elif isinstance(node, ast.Constant):
                self._constant(node)
            elif isinstance(node, ast.Name):
                if self._name(node):
                    found.append((self._index(node), node.id))
            else:
                self._reject(node)
        return sorted(found)

    def _call(self, node: ast.Call) -> list[ast.expr]:
        """The arguments of a whitelisted function called by name."""
        func = node.func
        if not isinstance(func, ast.Name):
            if type(func) in _REJECTED:
                self._reject(func)
            self._fail("calls of anything but a function name, such as sin(x)", node)
        name = func.id
        if name.startswith("_"):
            self._fail(f"names starting with '_' ({name!r})", func)
        if name in CONSTANTS:
            self._fail(f"{name!r} as a function; it is a constant", func)
        if name not in FUNCTIONS:
            listing = f"the functions are {', '.join(sorted(FUNCTIONS))}"
            where = at(self.text, self._index(func), fix=f"{listing}{closest(name, FUNCTIONS)}")
            raise ValueError(f"formula calls an unknown function {name!r} {where}")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self._reject(arg)
        if node.keywords:
            self._fail("keyword arguments; functions take one argument, as in sin(x)", node)
        if name in _VARIADIC and len(node.args) < 2:
            self._fail(f"{name}() of one argument or none; it takes two or more", node)
        if name not in _VARIADIC and len(node.args) != 1:
            self._fail(f"{name}() with {len(node.args)} arguments; it takes exactly one", node)
        return node.args

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            self._fail(f"the Python constant {value!r}", node)
        elif isinstance(value, int) and abs(value) >= 10**MAX_DIGITS:
            self._fail(f"integers with more than {MAX_DIGITS} digits; write 1e60 instead", node)
        elif isinstance(value, float) and not math.isfinite(value):
            self._fail("numbers too large for floating point (above 1.8e308)", node)
        elif not isinstance(value, (int, float)):  # str, bytes, complex
            self._fail(f"{type(value).__name__} constants", node)

    def _name(self, node: ast.Name) -> bool:
        """Check a name used as a value; True when it is a variable."""
        if node.id.startswith("_"):
            self._fail(f"names starting with '_' ({node.id!r})", node)
        if node.id in FUNCTIONS:
            self._fail(f"the function {node.id!r} without an argument; write {node.id}(x)", node)
        return node.id not in CONSTANTS

    def _reject(self, node: ast.AST) -> NoReturn:
        kind = type(getattr(node, "op", node))  # an operator's own type names it
        what = _REJECTED.get(kind) or _REJECTED.get(type(node))
        self._fail(what or f"Python syntax ({type(node).__name__}); {_HINT}", node)

    def _fail(self, description: str, node: ast.AST) -> NoReturn:
        raise forbidden(self.text, self._index(node), description)

    def _index(self, node: ast.AST) -> int:
        """Where a node is in the text: at the operator or the '.', else where it starts."""
        before = getattr(node, "left", None) or getattr(node, "value", None)
        if isinstance(node, ast.BoolOp):
            before = node.values[0]
        if isinstance(node, (ast.BinOp, ast.Compare, ast.BoolOp, ast.Attribute)):
            assert isinstance(before, ast.expr)
            start = position(self.text, before.end_lineno or 1, before.end_col_offset or 0)
            rest = self.text[start:]  # skip to the operator or the '.'
            return start + len(rest) - len(rest.lstrip(_SPACE + ")"))
        return position(self.text, getattr(node, "lineno", 1), getattr(node, "col_offset", 0))


def _variables(
    text: str, found: list[tuple[int, str]], variables: Sequence[str] | None
) -> tuple[str, ...]:
    """The variables' order: first appearance, or as given (checked against the text)."""
    used = list(dict.fromkeys(name for _, name in found))
    if isinstance(variables, Iterable) and not isinstance(variables, (str, bytes, Sized)):
        variables = list(itertools.islice(variables, MAX_VARIABLES + 1))  # an iterator: read
    count = max(len(used), len(variables) if isinstance(variables, Sized) else 0)
    if count > MAX_VARIABLES:
        raise ValueError(
            f"formula has {count} variables, more than the {MAX_VARIABLES} a formula may have; "
            "for larger problems pass a Python function and its gradient to minimize"
        )
    if variables is None:
        if not used:
            raise ValueError(
                f"formula has no variables: {text!r} is a constant; name them with "
                f"variables=['x'] to use a constant anyway"
            )
        return tuple(used)
    if isinstance(variables, (str, bytes)) or not isinstance(variables, Iterable):
        raise TypeError(
            f"variables must be a sequence of names such as ['x', 'y'], got "
            f"{type(variables).__name__} {variables!r:.60}"
        )
    variables = list(variables)
    if not variables:
        raise ValueError("variables must name at least one variable, got an empty sequence")
    for i, name in enumerate(variables):
        if not isinstance(name, str):
            raise TypeError(f"variables[{i}] must be a str, got {type(name).__name__} {name!r:.60}")
        if not _NAME.match(name) or keyword.iskeyword(name) or name in {**FUNCTIONS, **CONSTANTS}:
            raise ValueError(
                f"variables[{i}] must be a name such as 'x' or 'x_1' (a letter, then letters, "
                f"digits or '_'; not a function, a constant or a Python keyword), got {name!r}"
            )
        if name in variables[:i]:
            raise ValueError(
                f"variables must be distinct, got {name!r} twice in {tuple(variables)}"
            )
    missing = [name for name in used if name not in variables]
    if missing:
        raise ValueError(
            f"formula uses {', '.join(map(repr, missing))}, missing from variables "
            f"{tuple(variables)!r}; add it: variables={[*variables, *missing]!r}"
        )
    return tuple(str(name) for name in variables)  # plain str, also from a NumPy array


# Building the SymPy expression ----------------------------------------------------------


class _Translator:
    """Checked syntax tree -> SymPy expression, one node at a time, each constant checked.

    Recursion follows the nesting, which the checker bounded; a long sum or product is
    one node. Every result has its big rationals turned into floats (so no later step
    of SymPy can raise 9 to the 387420489th power exactly) and, when it is a constant, is
    evaluated in float64 arithmetic: a constant that is not a finite real number is an
    error, reported at the node that made it.
    """

    def __init__(self, text: str, variables: tuple[str, ...]) -> None:
        import sympy

        self.sp = sympy
        self.text = text
        self.symbols = {name: sympy.Symbol(name, real=True) for name in variables}
        self.values: dict[Expr, float] = {}

    def expression(self, node: ast.AST) -> Expr:
        try:
            return self._build(node)
        except RecursionError:
            raise ValueError(too_deep(self.text)) from None

    def _build(self, node: ast.AST) -> Expr:
        sp = self.sp
        if isinstance(node, ast.BinOp) and type(node.op) in _CHAINS:
            return self._chain(node)
        if isinstance(node, ast.BinOp):  # a power: the checker allowed no other operator
            base, exponent = self._build(node.left), self._build(node.right)
            if (
                not base.free_symbols
                and exponent.free_symbols
                and approximate(sp, base, self.values) < 0
            ):
                fix = "it is real only at whole numbers; use a positive base"
                raise ValueError(
                    f"formula raises a negative number to a variable power {self._at(node, fix)}"
                )
            return self._checked(sp.Pow(base, exponent), node)
        if isinstance(node, ast.UnaryOp):
            operand = self._build(node.operand)
            return self._checked(-operand, node) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name, args = node.func.id, [self._build(arg) for arg in node.args]
            function = getattr(sp, FUNCTIONS[name])
            if name in _LOG_BASES:
                return self._checked(function(*args, _LOG_BASES[name]), node)
            return self._checked(function(*args), node)
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return self._checked(getattr(sp, CONSTANTS[node.id]), node)
            return self.symbols[node.id]
        if isinstance(node, ast.Constant):
            number = sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
            return self._checked(number, node)
        raise AssertionError(f"unchecked node {type(node).__name__}")  # pragma: no cover

    def _chain(self, node: ast.BinOp) -> Expr:
        """``a + b - c + ...`` or ``a * b / c * ...`` of any length, in one step."""
        sp = self.sp
        kind = _CHAINS[type(node.op)]
        operands: list[tuple[type, ast.AST]] = []
        left: ast.AST = node
        while isinstance(left, ast.BinOp) and _CHAINS.get(type(left.op)) == kind:
            operands.append((type(left.op), left.right))
            left = left.left
        terms = [self._build(left)]
        for op, operand in reversed(operands):
            term = self._build(operand)
            if op is ast.Sub:
                term = -term
            elif op is ast.Div:
                if not term.free_symbols and approximate(sp, term, self.values) == 0:
                    raise ValueError(f"formula divides by zero {self._at(operand)}")
                term = self._checked(sp.Pow(term, -1), operand)
            terms.append(term)
        return self._checked(sp.Add(*terms) if kind == "sum" else sp.Mul(*terms), node)

    def _checked(self, expr: Expr, node: ast.AST) -> Expr:
        """Big rationals as floats; a constant must be a finite real number."""
        big = {
            a: a.evalf(15)  # not sympy.Float(a), which goes through str(a): slow and limited
            for a in expr.atoms(self.sp.Rational)
            if abs(a.p) > EXACT_LIMIT or a.q > EXACT_LIMIT
        }
        if big:
            expr = expr.xreplace(big)
        if not expr.free_symbols:
            try:
                approximate(self.sp, expr, self.values)
            except NotFinite as error:
                raise ValueError(
                    f"formula has a constant that is {error} {self._at(node)}"
                ) from None
        return expr

    def _at(self, node: ast.AST, fix: str = "") -> str:
        segment = ast.get_source_segment("(" + self.text + ")", node) or ""
        segment = segment if len(segment) <= 40 else segment[:37] + "..."
        start = position(self.text, getattr(node, "lineno", 1), getattr(node, "col_offset", 0))
        return at(self.text, start, repr(segment), fix)
