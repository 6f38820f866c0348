"""The table of engines that ``minimize(..., engine=...)`` dispatches to.

The Python loop (:mod:`descend.core.loop`) is the engine ``"python"``, the default. Other
ways to run the same loop live above core, in :mod:`descend.engines`, so core never
imports them: ``descend/__init__.py`` registers a *loader* for each by name
(:func:`register_engine`), called only when a run asks for that engine, so that
``import descend`` loads none of them (nor Numba). ``"auto"`` takes the first registered
engine that can run the problem and expects to repay its start-up, else Python.

An engine is an object with ``prepare(objective, optimizer, rules, options)``, called
before any evaluation of ``fun``: it returns the reason it cannot run the problem (a
str), or a prepared run, callable as ``run(objective, optimizer, rules, x, f, g,
record_x, keep) -> Result`` once f and g at the start are known, with
``worth(max_iter) -> bool`` saying whether its start-up is repaid over ``max_iter``
updates. ``rules`` is :func:`descend.core.minimize.stopping_rules`'s dict; ``options``
holds minimize's other settings that an engine may refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from descend._validate import closest
from descend.core.result import Result

__all__ = ["Engine", "Prepared", "engine_names", "register_engine", "select_engine"]


class Prepared(Protocol):
    """A run an engine has prepared (compiled, loaded) for one problem."""

    def worth(self, max_iter: int) -> bool: ...

    def __call__(
        self, objective: Any, optimizer: Any, rules: dict[str, Any], x: Any, f: float, g: Any,
        record_x: bool, keep: str,
    ) -> Result: ...  # fmt: skip


class Engine(Protocol):
    def prepare(
        self, objective: Any, optimizer: Any, rules: dict[str, Any], options: dict[str, Any]
    ) -> Prepared | str: ...


_LOADERS: dict[str, Callable[[], Engine]] = {}


def register_engine(name: str, loader: Callable[[], Engine]) -> None:
    """Make ``engine=name`` run through the engine that ``loader()`` returns (called on
    first use; registering a name again replaces its loader)."""
    if not isinstance(name, str) or name in ("python", "auto"):
        raise ValueError(f"an engine's name must be a new str, got {name!r}")
    if not callable(loader):
        raise TypeError(f"loader must be callable, got {loader!r:.60}")
    _LOADERS[name] = loader


def engine_names() -> tuple[str, ...]:
    """The values ``engine=`` accepts: ``"python"``, the registered engines, ``"auto"``."""
    return ("python", *_LOADERS, "auto")


def select_engine(
    engine: Any, objective: Any, optimizer: Any, rules: dict[str, Any], **options: Any
) -> Prepared | None:
    """The prepared run of ``engine`` for this problem, or None for the Python loop.

    Raises
    ------
    ValueError
        ``engine`` names no engine, or the engine named cannot run this problem (the
        message says why, and that ``engine="python"`` runs it).
    """
    names = engine_names()
    if engine not in names:
        hint = closest(engine, names) if isinstance(engine, str) else ""
        raise ValueError(
            f"engine must be {', '.join(repr(n) for n in names)}, got {engine!r}{hint}"
        )
    if engine == "python":
        return None
    chosen = [engine] if engine != "auto" else list(_LOADERS)
    for name in chosen:
        prepared = _LOADERS[name]().prepare(objective, optimizer, rules, options)
        if isinstance(prepared, str):
            if engine == "auto":
                continue  # auto falls back without a word
            raise ValueError(
                f"engine={engine!r} cannot run this problem: {prepared}; engine='python' "
                "(the default) runs it"
            )
        if engine != "auto" or prepared.worth(rules["max_iter"]):
            return prepared
    return None
