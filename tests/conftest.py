"""Fixtures more than one test module uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SCENARIOS, factory5g


@pytest.fixture(scope="session")
def bench_quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole benchmark suite run as CI runs it: ``factory5g bench --quick`` on a real Dask
    ``LocalCluster`` of two workers; the folder it wrote."""
    out = tmp_path_factory.mktemp("bench-quick")
    done = factory5g(
        "bench", SCENARIOS / "benchmarks", "--quick", "--workers", "2", "--out", out, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (out / "stdout.txt").write_text(done.stdout, encoding="utf-8")
    return out
