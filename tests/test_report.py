"""The HTML report (sim.html_report, factory5g report): self-contained, complete, and rendered by a
real headless Chromium without console errors (skipped, with the reason, where none is installed;
.ci/run installs Debian's)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import factory5g, uniform_plant


def scenario_file(folder: Path, name: str, latency: str) -> str:
    data = uniform_plant(latency, "30%", count=3)
    data["name"] = name
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    out = folder / "out"
    done = factory5g(
        "compare",
        scenario_file(folder, "before", "20ms"),
        scenario_file(folder, "after", "8ms"),
        "--out",
        str(out),
        "--report",
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_report_is_one_self_contained_page(compared: Path) -> None:
    page = (compared / "report.html").read_text(encoding="utf-8")
    for section in (
        "What was simulated",
        "What the upgrades change",
        "Requirements: verdicts",
        "Latency changes, with their 95 % intervals",
        "Latency tails",
        "Networks",
        "Notes and warnings",
    ):
        assert section in page, section
    assert 'src="data:image/png;base64,' in page
    assert not re.search(r'(src|href)="(https?:|//)', page)  # nothing fetched from elsewhere
    assert '<span class="pass">pass</span>' in page  # 'after' (always on time) passes 30 %
    assert "latency.0.uniform" not in page and "networks.net.latency" in page


def test_report_rewrites_it_from_the_folder(compared: Path, tmp_path: Path) -> None:
    target = tmp_path / "mailed.html"
    done = factory5g("report", str(compared), "--out", str(target))
    assert done.returncode == 0, done.stderr
    assert target.read_text(encoding="utf-8") == (compared / "report.html").read_text(
        encoding="utf-8"
    )
    empty = factory5g("report", str(tmp_path))
    assert empty.returncode == 2
    assert (
        "no comparison.json, summary.json, sweep.json, capacity.json or scorecard.json"
        in empty.stderr
    )
    assert "Traceback" not in empty.stderr


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sweep")
    out = folder / "out"
    line = folder / "line.yaml"  # 90 % on time within 10 ms: a uniform 0-8 ms passes, 0-20 fails
    line.write_text(yaml.safe_dump(uniform_plant("20ms", "90%", count=3)), encoding="utf-8")
    done = factory5g(
        "sweep", line, "--vary", "networks.net.latency.uniform=[[0ms, 8ms], [0ms, 20ms]]",
        "--vary", "machines.m.count=1,3", "--out", out, "--report",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def capacity(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("capacity")
    out = folder / "out"
    data = uniform_plant("2ms", count=1, replications=3)
    data["networks"]["net"]["rate"] = "1Mbps"  # each machine 100 B / 10 ms: 8 % of it, framed
    data["machines"]["m"]["streams"]["s"]["payload"] = "100B"
    line = folder / "line.yaml"
    line.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = factory5g(
        "capacity", line, "--grow", "machines.m.count",
        "--from", "1", "--to", "16", "--until", "p99<=20ms", "--out", out, "--report",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_a_sweeps_report_has_its_fields_points_and_plot(swept: Path) -> None:
    page = (swept / "report.html").read_text(encoding="utf-8")
    for section in ("What was swept", "Figures against the swept field", "Every point and row"):
        assert section in page, section
    assert "networks.net.latency.uniform" in page and "machines.m.count" in page
    assert page.count("<tr>") == 1 + 2 + 1 + 4  # fields table, then four points x one row
    assert 'src="data:image/png;base64,' in page
    assert '<span class="pass">pass</span>' in page and '<span class="fail">fail</span>' in page


def test_a_capacity_report_has_the_finding_and_every_probe(capacity: Path) -> None:
    import html
    import json

    page = html.unescape((capacity / "report.html").read_text(encoding="utf-8"))
    found = json.loads((capacity / "capacity.json").read_text())
    assert found["sentence"] in page
    assert found["largest_pass"] is not None and found["smallest_fail"] is not None
    assert page.count('<span class="') >= len(found["probes"])
    assert "Verdicts at the largest passing and the smallest failing value" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium here (.ci/run installs Debian's)")
@pytest.mark.parametrize("which", ["compared", "swept", "capacity", "bench_quick"])
def test_the_report_renders_in_headless_chromium(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The page's script ran (it marks the body), no console message is an error, and a
    screenshot is written (to FACTORY5G_ARTEFACTS when set, for a look after the run)."""
    folder: Path = request.getfixturevalue(which)
    page = (folder / "report.html").resolve().as_uri()
    common = [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    dom = subprocess.run([*common, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="yes"' in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if re.search(r"Uncaught|Error", line)], console
    shots = Path(os.environ.get("FACTORY5G_ARTEFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"report-{which}.png"
    done = subprocess.run(
        [*common, "--window-size=1280,1600", f"--screenshot={shot}", page],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
