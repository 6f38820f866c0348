"""The report, built once per test session as ``descend demo --out DIR`` builds it, with
every figure it saves kept (as the figure object, before saving) for the tests to read."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Built:
    folder: Path
    out: str
    err: str
    figures: dict[str, Any]  # name -> the matplotlib Figure the report saved


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    from descend.cli import cli
    from descend.viz import _page

    folder = tmp_path_factory.mktemp("report")
    figures: dict[str, Any] = {}
    save = _page.Page.figure

    def keep(self: Any, name: str, figure: Any, alt: str) -> Any:
        figures[name] = figure
        return save(self, name, figure, alt)

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
        patch.setattr(_page.Page, "figure", keep)
        code = cli(["demo", "--out", str(folder)])
    assert code == 0, err.getvalue()
    return Built(folder, out.getvalue(), err.getvalue(), figures)
