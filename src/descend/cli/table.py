"""Tables for ``descend fit`` and ``descend predict``: read a file, check it, encode it.

A table's feature columns become one float matrix: a numeric column as it is, and a
column of text (or of categories) with k distinct values as k - 1 columns of 0/1 named
``column=value``, one per value but the first in sorted order, which is the baseline
the intercept holds (so that each coefficient is identifiable and reads as "this value
against the baseline").

>>> import pandas as pd
>>> frame = pd.DataFrame({"size": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"]})
>>> encoding = Encoding.learn(frame)
>>> encoding.names, encoding.encode(frame).tolist()
(['size', 'colour=red'], [[1.0, 1.0], [2.0, 0.0], [3.0, 1.0]])
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

import click
import numpy as np

from descend._validate import closest

# A text column with more distinct values than this is refused rather than one-hot encoded.
MAX_CATEGORIES = 50
_PARQUET = (".parquet", ".pq")


def read(path: str) -> Any:
    """The table in ``path``: CSV, or Parquet (``.parquet``, ``.pq``) when pyarrow is installed."""
    import pandas as pd

    if os.path.splitext(path)[1].lower() in _PARQUET:
        if importlib.util.find_spec("pyarrow") is None:
            raise click.UsageError(
                f"reading {path} (Parquet) needs pyarrow: pip install pyarrow, "
                "or save the table as CSV"
            )
        return pd.read_parquet(path)
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0] if str(error) else "no columns"
        raise click.UsageError(f"{path} is not a CSV table: {first}") from None


def column(frame: Any, name: str, option: str) -> Any:
    """The column ``name`` of ``frame``, or an error naming the columns there are."""
    if name not in frame.columns:
        names = [str(c) for c in frame.columns]
        same = [c for c in names if c.lower() == name.lower()]  # case apart
        hint = f"; did you mean {same[0]!r}?" if same else closest(name, names)
        raise click.UsageError(
            f"{option} {name!r} is not a column of the table; its columns are "
            f"{', '.join(names)}{hint}"
        )
    return frame[name]


def check_complete(frame: Any) -> None:
    """Refuse missing values, naming each column that has them and how many rows."""
    missing = frame.isna().sum()
    bad = [f"{name!r} ({count} of {len(frame)} rows)" for name, count in missing.items() if count]
    if bad:
        raise click.UsageError(
            f"the table has missing values in column {', '.join(bad)}; "
            "fill them or drop those rows first"
        )


@dataclass(frozen=True)
class Encoding:
    """How a table's feature columns become numbers: the numeric columns, and for each
    text column its values (the first is the baseline, with no column of its own)."""

    columns: list[str]
    categories: dict[str, list[Any]]

    @classmethod
    def learn(cls, frame: Any) -> Encoding:
        """The encoding of ``frame``'s columns (all of them are features)."""
        import pandas as pd

        categories = {}
        for name in frame.columns:
            values = frame[name]
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                continue
            distinct = sorted(values.astype(str).unique())
            if len(distinct) > MAX_CATEGORIES:
                raise click.UsageError(
                    f"column {name!r} is not numeric and has {len(distinct)} distinct values, "
                    f"more than the {MAX_CATEGORIES} that are one-hot encoded; drop it from "
                    "the table, or encode it as numbers"
                )
            categories[str(name)] = distinct
        return cls([str(name) for name in frame.columns], categories)

    @property
    def names(self) -> list[str]:
        """The encoded columns' names: ``size``, ``colour=red``, ..."""
        names = []
        for name in self.columns:
            if name in self.categories:
                names += [f"{name}={value}" for value in self.categories[name][1:]]
            else:
                names.append(name)
        return names

    def encode(self, frame: Any) -> np.ndarray:
        """``frame``'s feature columns as a float matrix, one column per name of :attr:`names`."""
        blocks = []
        for name in self.columns:
            values = column(frame, name, "the model's feature")
            if name not in self.categories:
                try:
                    blocks.append(np.asarray(values, dtype=np.float64)[:, None])
                except ValueError:
                    raise click.UsageError(
                        f"column {name!r} holds text, but the model was fitted on numbers there"
                    ) from None
                continue
            known = self.categories[name]
            text = values.astype(str).to_numpy()
            unseen = sorted(set(text) - set(known))
            if unseen:
                raise click.UsageError(
                    f"column {name!r} holds values the model was not fitted on: "
                    f"{', '.join(map(repr, unseen[:5]))}; it knows {', '.join(map(repr, known))}"
                )
            blocks.append((text[:, None] == np.array(known[1:])[None, :]).astype(np.float64))
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "categories": self.categories}
