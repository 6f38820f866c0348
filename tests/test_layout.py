"""The layout's promises: imports point down the layers, public names survive the moves,
heavy extras load only when used, and no module grows past one idea."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import descend as dd

PACKAGE = Path(dd.__file__).parent

# Layer -> the layers it may import. The shared helpers (descend._validate, _types, _caller,
# _progress) sit below every layer; a module may always import its own layer.
ALLOWED = {
    "gradients": set(),
    "core": {"gradients"},
    "engines": {"core", "gradients"},
    "analysis": {"core", "gradients"},
    "problems": {"core", "gradients"},
    "models": {"core", "gradients", "engines", "problems"},
    "viz": {"core", "gradients", "engines", "analysis", "problems", "models"},
    "playground": {"core", "gradients", "engines", "analysis", "problems", "models", "viz"},
    "cli": {"core", "gradients", "engines", "analysis", "problems", "models", "viz", "playground"},
}
SHARED = {"_validate", "_types", "_caller", "_progress"}
HEAVY = ("matplotlib", "sympy", "scipy", "sklearn", "numba", "pandas", "dask", "torch", "jax")
MAX_LINES = 520  # "about 500": a module past this likely holds more than one idea


def modules() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE
    )


def layer_of(path: Path, root: Path = PACKAGE) -> str:
    return path.relative_to(root).parts[0].removesuffix(".py")


def imported(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every descend module ``path`` imports, at any depth (function-level imports too),
    as a dotted name below ``descend``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ["descend", *path.relative_to(root).parent.parts]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "descend")
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from .x or from ..x
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "descend":  # from descend import _validate, core, or a public name
                found.update(
                    f"descend.{a.name}" if a.name in SHARED | set(ALLOWED) else "descend"
                    for a in node.names
                )
            elif module.split(".")[0] == "descend":
                found.add(module)
    return found


def target_layer(name: str) -> str | None:
    """The layer a dotted descend name belongs to; None for the package's own public
    names and the shared helpers."""
    parts = name.split(".")
    if len(parts) < 2 or parts[1] in SHARED:
        return None
    return parts[1] if parts[1] in ALLOWED else None


def violations(path: Path, root: Path = PACKAGE) -> list[str]:
    """What ``path`` imports against the layering, or [] when it keeps to it."""
    layer = layer_of(path, root)
    if layer in SHARED:
        allowed: set[str] = set()
    else:
        assert layer in ALLOWED, f"{path}: a module outside every layer of DESIGN.md's layout"
        allowed = ALLOWED[layer] | {layer}
    names = imported(path, root)
    bad = sorted(n for n in names if (t := target_layer(n)) is not None and t not in allowed)
    return bad + (["descend (the top package)"] if "descend" in names else [])


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path: Path) -> None:
    layer = layer_of(path)
    allowed = sorted(ALLOWED.get(layer, set()))
    assert not violations(path), f"{layer} may import only {allowed}: {violations(path)}"


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    from descend.analysis.diagnose import diagnose\n",  # inside a function
        "from ..analysis import sweep\n",  # relative
        "import descend.viz.plot\n",
        "import descend as dd\n",  # the top package reaches every layer
    ],
)
def test_the_check_catches_an_upward_import(tmp_path: Path, source: str) -> None:
    probe = tmp_path / "core" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(source)
    assert violations(probe, tmp_path)
    (tmp_path / "core" / "fine.py").write_text("from descend.gradients.numeric import check_grad\n")
    assert violations(tmp_path / "core" / "fine.py", tmp_path) == []


def test_nothing_imports_the_cli() -> None:
    users = [p.name for p in modules() if layer_of(p) != "cli" and "descend.cli" in imported(p)]
    assert not users


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_holds_one_idea(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines; split it by idea"


def test_import_descend_loads_no_heavy_extra() -> None:
    code = f"import sys, descend; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("short", "real"),
    [
        ("plot", "descend.viz.plot"),
        ("datasets", "descend.problems.datasets"),
        ("functions", "descend.problems.functions"),
        ("projections", "descend.core.projections"),
        ("schedules", "descend.core.schedules"),
        ("report", "descend.viz.report"),
    ],
)
def test_public_modules_keep_their_short_names(short: str, real: str) -> None:
    # Attribute access, the import statement and from-imports all give the one module.
    code = (
        f"import descend as dd, importlib, sys\n"
        f"import descend.{short} as by_statement\n"
        f"from descend import {short} as by_from\n"
        f"real = importlib.import_module({real!r})\n"
        f"assert dd.{short} is by_statement is by_from is real\n"
        f"assert real.__name__ == {real!r}\n"
        f"print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_every_public_name_resolves() -> None:
    for name in dd.__all__:
        assert getattr(dd, name) is not None
    models = importlib.import_module("descend.models")
    for name in models.__all__:
        assert getattr(models, name) is not None
    assert callable(dd.plot.path)


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'plott'"):
        _ = dd.plott  # type: ignore[attr-defined]
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("descend.plott")


def test_a_failed_run_still_ends_with_the_diagnosis() -> None:
    # The adviser that analysis registers with core is what ends the message.
    res = dd.minimize(lambda x: x**2, 1.0, grad=lambda x: 2 * x, lr=1.5)
    assert res.message.startswith("diverged: f grew from 1 to")
    assert "lr=1.5 is too large" in res.message and "lr < 2/L = 1" in res.message
