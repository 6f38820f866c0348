"""The ``descend`` command's options, read from the shell's text into the API's values.

Each reader names the option it read in its error (``--schedule``, ``-o memory``), so
that a mistake is reported in the words the user typed.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from typing import Any

import click
import numpy as np

from descend._validate import closest
from descend.core import schedules
from descend.core.minimize import minimize
from descend.core.optimizers import OPTIMIZERS
from descend.core.projections import Box, box

_SCHEDULES = {name: getattr(schedules, name) for name in schedules.__all__}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def together(decorators: list[Any]) -> Any:
    """One decorator that applies a list of click options in their order."""

    def apply(command: Any) -> Any:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def floats(text: str, option: str) -> list[float]:
    """Comma-separated numbers: ``3,4`` -> [3.0, 4.0]."""
    try:
        return [float(item) for item in text.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"expected numbers separated by commas, got {text!r}", param_hint=option
        ) from None


def _output(ctx: Any, param: Any, path: str | None) -> str | None:
    """An output file's folder, checked before the run: a missing one would lose it."""
    if path is None:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise click.BadParameter(
            f"the folder {folder!r} does not exist; create it, or write to another path",
            param_hint=f"'{param.opts[0]}'",
        )
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"the folder {folder!r} is not writable", param_hint=param.opts[0])
    return path


def output_option(flag: str, name: str, help: str) -> Any:
    """An option naming a file to write, its folder checked before any run."""
    return click.option(flag, name, type=click.Path(dir_okay=False), callback=_output, help=help)


def _animation(ctx: Any, param: Any, path: str | None) -> str | None:
    """An animation's file: its folder, and a format that can be written, checked before
    the run (GIF through Pillow; MP4 needs ffmpeg)."""
    path = _output(ctx, param, path)
    if path is None:
        return None
    hint = f"'{param.opts[0]}'"
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".gif", ".mp4"):
        raise click.BadParameter(
            f"an animation is written as .gif or .mp4, got {path!r}", param_hint=hint
        )
    if suffix == ".mp4":
        from matplotlib import animation

        if not animation.writers.is_available("ffmpeg"):
            raise click.BadParameter(
                f"writing {path!r} needs ffmpeg on the PATH; install ffmpeg, or write a .gif",
                param_hint=hint,
            )
    return path


def animation_option(help: str) -> Any:
    """``--animate FILE``: an animation of the runs to write, checked before any run."""
    return click.option(
        "--animate", "animation_path", type=click.Path(dir_okay=False), callback=_animation,
        metavar="FILE.gif", help=help,
    )  # fmt: skip


def _kind(annotation: Any) -> type:
    """bool, int, str or float: what a setting annotated so is written as."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    words = set(re.findall(r"\w+", text))
    for kind in (bool, int, str):
        if kind.__name__ in words:
            return kind
    return float


def _kinds() -> dict[str, type]:
    """Every setting's kind, by name: the optimizers' fields and minimize's keywords."""
    kinds = {
        name: _kind(p.annotation) for name, p in inspect.signature(minimize).parameters.items()
    }
    for cls in OPTIMIZERS.values():
        kinds.update({f.name: _kind(f.type) for f in dataclasses.fields(cls)})
    kinds["lr"] = float  # a number here; a schedule comes through --schedule
    return kinds


KINDS = _kinds()


def typed(name: str, text: str, option: str, kinds: dict[str, type] = KINDS) -> Any:
    """``text`` as the kind of value the setting ``name`` takes (a float when unknown)."""
    kind = kinds.get(name, float)
    text = text.strip()
    where = f"{option} {name}"
    if kind is str:
        return text
    if kind is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise click.BadParameter(f"expected true or false, got {text!r}", param_hint=where)
    try:
        number = float(text)
    except ValueError:
        raise click.BadParameter(f"expected a number, got {text!r}", param_hint=where) from None
    if kind is int:
        if not number.is_integer():
            raise click.BadParameter(f"expected a whole number, got {text!r}", param_hint=where)
        return int(number)
    return number


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}", param_hint=option)
    return name.strip(), value


def hyperparameters(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``-o NAME=VALUE`` pairs as settings, each of its own kind (memory=5 is an int)."""
    settings = {}
    for text in pairs:
        name, value = _pair(text, "-o")
        settings[name] = typed(name, value, "-o")
    return settings


def grids(pairs: tuple[str, ...]) -> dict[str, list[Any]]:
    """``-g NAME=v1,v2`` pairs as sweep grids, each value of the setting's kind."""
    found = {}
    for text in pairs:
        name, values = _pair(text, "-g")
        found[name] = [typed(name, value, "-g") for value in values.split(",")]
    return found


def learning_rate(ctx: Any, param: Any, text: str | None) -> float | str | None:
    """``--lr``: a positive number, or ``auto`` (the learning-rate range test's choice)."""
    if text is None or text.strip().lower() == "auto":
        return None if text is None else "auto"
    try:
        return float(text)
    except ValueError:
        raise click.BadParameter(
            f"expected a number or auto, got {text!r}", param_hint="--lr"
        ) from None


def schedule(ctx: Any, param: Any, text: str | None) -> Any:
    """``--schedule NAME:ARGS``: a :mod:`descend.schedules` function, ``cosine:0.1,steps=1000``."""
    if text is None:
        return None
    name, _, arguments = text.partition(":")
    name = name.strip()
    if name not in _SCHEDULES:
        raise click.BadParameter(
            f"no schedule {name!r}; the schedules are {', '.join(_SCHEDULES)}"
            + closest(name, _SCHEDULES),
            param_hint="--schedule",
        )
    cls = _SCHEDULES[name]
    kinds = {f.name: _kind(f.type) for f in dataclasses.fields(cls)}
    given: dict[str, Any] = {}
    positional = iter(kinds)  # values without a name fill the settings in order
    for item in filter(None, arguments.split(",")):
        key, sep, value = item.partition("=")
        key, value = (key.strip(), value) if sep else (next(positional, ""), key)
        if key not in kinds:  # a misspelt name, or more values than settings
            raise click.BadParameter(
                (f"{name} has no setting {key!r}" if key else f"too many values for {name}")
                + f"; {_usage(cls)}"
                + closest(key, kinds),
                param_hint="--schedule",
            )
        given[key] = typed(key, value, "--schedule", {**kinds, "after": float})
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in given
               and f.default is dataclasses.MISSING]  # fmt: skip
    if missing:
        raise click.BadParameter(
            f"{name} needs {' and '.join(missing)}; {_usage(cls)}", param_hint="--schedule"
        )
    try:
        return cls(**given)
    except (TypeError, ValueError) as error:
        raise click.BadParameter(f"{name}: {error}", param_hint="--schedule") from None


def _usage(cls: type) -> str:
    """How a schedule is written: ``cosine:INITIAL,steps=STEPS[,final=1e-06]``."""
    parts: list[str] = []
    optional: list[str] = []
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING:
            parts.append(f"{f.name}={f.name.upper()}" if parts else f.name.upper())
        else:
            optional.append(f",{f.name}={f.default}")
    return f"write it as {cls.__name__}:{','.join(parts)}" + "".join(f"[{o}]" for o in optional)


def bounds(text: str, names: list[str]) -> Box:
    """``--bounds lo,hi`` for every variable, or ``lo,hi;lo,hi`` one pair per variable."""
    pairs = [floats(pair, "--bounds") for pair in text.split(";")]
    if any(len(pair) != 2 for pair in pairs):
        raise click.BadParameter(
            f"expected lo,hi pairs separated by ';' (-1,1 or 0,inf;-2,2), got {text!r}",
            param_hint="--bounds",
        )
    if len(pairs) not in (1, len(names)):
        raise click.BadParameter(
            f"{len(pairs)} pairs for {counted(names)}; give one pair for all, or one for each",
            param_hint="--bounds",
        )
    lower, upper = np.array(pairs).T
    bad = [i for i in range(len(lower)) if not lower[i] <= upper[i]]
    if bad:
        raise click.BadParameter(
            f"lo must be <= hi, got {pairs[bad[0]][0]:g},{pairs[bad[0]][1]:g}",
            param_hint="--bounds",
        )
    return box(lower if len(pairs) > 1 else lower[0], upper if len(pairs) > 1 else upper[0])


def counted(names: list[str]) -> str:
    """``1 variable (x)``, ``2 variables (x, y)``."""
    plural = "" if len(names) == 1 else "s"
    return f"{len(names)} variable{plural} ({', '.join(names)})"
