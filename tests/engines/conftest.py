"""A real Dask cluster for the engine tests, started once for the session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def client():
    """``LocalCluster`` of two one-thread workers in this process (process workers take
    seconds each to start here; ``test_dask_runs.py`` starts its own to kill one)."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=":0",  # any free port: None still takes 8787
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
