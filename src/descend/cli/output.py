"""What the ``descend`` command prints about a run: the summary, and the JSON record."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from descend.cli.messages import shell
from descend.core.result import Result


def summary(res: Result, names: list[str]) -> str:
    """The run's story, one field a line, x by variable name."""
    x = np.atleast_1d(res.x)
    coordinates = ", ".join(f"{n}={v:.10g}" for n, v in zip(names, x.ravel(), strict=False))
    return "\n".join(
        [
            f"status:     {res.status}",
            f"x:          {coordinates}",
            f"f:          {res.fun:.10g}",
            f"iterations: {res.nit} (f evaluated {res.nfev} times, gradient {res.ngev})",
            f"time:       {res.elapsed * 1000:.3g} ms",
            f"message:    {shell(res.message)}",
            *last_parts(res, names),
            *(
                f"rollback:   at update {e.nit}: {e.cause}; lr {e.lr_before:.3g} -> "
                f"{e.lr_after:.3g}"
                for e in res.events
            ),
        ]
    )


def last_parts(res: Result, names: list[str], run: str = "the") -> list[str]:
    """With --explain: the parts of the last update, one line each, by variable name,
    under a line that names the ``run`` (``the``, or a method in a comparison)."""
    table = res.history.explanation
    if not table or not res.nit:
        return []
    lines = [f"{run} last update (update {res.nit}), part by part:"]
    for name in sorted(table):
        row = table[name][-1]
        if np.ndim(row) == 0:
            lines.append(f"  {name}: {row:.6g}")
        elif len(row) == len(names) and not name.startswith("trial"):
            lines.append(
                f"  {name}: " + ", ".join(f"{n}={v:.6g}" for n, v in zip(names, row, strict=True))
            )
        else:
            lines.append(f"  {name}: " + ", ".join(f"{v:.6g}" for v in row[~np.isnan(row)]))
    return lines


def as_json(res: Result, with_history: bool) -> str:
    """One strict-JSON object: the result, and with ``with_history`` every point and part."""
    return strict_json(record(res, with_history))


def strict_json(value: Any) -> str:
    """``value`` as strict JSON: NaN and infinities as null (a diverged run has them)."""
    return json.dumps(_finite_or_null(value), allow_nan=False)


def record(res: Result, with_history: bool) -> dict[str, Any]:
    """The result as a dict of plain values, and with ``with_history`` every point and part."""
    record: dict[str, Any] = {
        "x": np.asarray(res.x).tolist(),
        "fun": res.fun,
        "nit": res.nit,
        "nfev": res.nfev,
        "ngev": res.ngev,
        "status": str(res.status),
        "success": res.success,
        "message": shell(res.message),
        "elapsed": res.elapsed,
        "method": res.method,
    }
    if with_history:
        record["history"] = {k: v.tolist() for k, v in res.history.to_dict().items()}
        if res.history.explanation is not None:
            record["parts"] = {k: v.tolist() for k, v in res.history.explanation.items()}
    if res.events:
        record["events"] = [event._asdict() for event in res.events]
    return record


def _finite_or_null(value: Any) -> Any:
    """NaN and infinities as null, so that the output is strict JSON (a diverged run has them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(item) for item in value]
    return value
