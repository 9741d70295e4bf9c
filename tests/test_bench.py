"""The benchmark suite (sim.studies.bench, factory5g bench): every reference plant validates and
runs in every network option, the scorecard has a row per plant and a column per option, and the
published known answers hold: a 1 ms motion-control loop fails on a grant-based DDDSU cell and on
Wi-Fi, massive sensor monitoring passes on every option, machine-vision uplink saturates a
grant-based cell beyond the camera count its uplink capacity allows."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
from helpers import ROOT, SCENARIOS, factory5g

from sim.engine import run_scenario
from sim.scenario.loader import load_scenario
from sim.studies.bench import cell, discover, run_suite
from sim.studies.catalogue import SCORECARD_HEADING, catalogue_markdown
from sim.studies.runner import Runner

SUITE = SCENARIOS / "benchmarks"


def _card(folder: Path) -> dict:
    return json.loads((folder / "scorecard.json").read_text(encoding="utf-8"))


def _cell(card: dict, plant: str, option: str) -> dict:
    (found,) = [c for c in card["cells"] if c["plant"] == plant and c["option"] == option]
    return found


def _target(found: dict, target: str, row: str | None = None) -> dict:
    (chosen,) = [
        t for t in found["targets"] if t["target"] == target and (row is None or t["row"] == row)
    ]
    return chosen


def test_the_suite_has_ten_plants_or_more_each_in_three_options_or_more() -> None:
    """Every plant folder's files validate, carry a card citing their sources, and include a legacy
    intranet and a 5G upgrade."""
    entries = discover(SUITE)
    plants: dict[str, list[str]] = {}
    for entry in entries:
        plants.setdefault(entry.plant, []).append(entry.option)
        card = entry.scenario.benchmark
        assert card is not None and card.sources and card.use_case and card.option
    assert len(plants) >= 10
    legacy = {"ethernet", "profinet", "gateway", "wifi", "mixed"}
    for plant, options in plants.items():
        assert len(options) >= 2, plant
        assert legacy & set(options), plant
        assert any(o.startswith("5g-") for o in options), plant
    assert {"motion-control", "condition-monitoring", "machine-vision"} <= set(plants)


def test_quick_mode_runs_every_plant_and_option_into_one_scorecard(bench_quick: Path) -> None:
    """A row per plant, a column per option, a cell per file; each cell simulated messages on its
    plant's options' own engine and judged its targets; the CSV has a line per judged target."""
    card = _card(bench_quick)
    entries = discover(SUITE)
    assert card["mode"] == "quick" and card["workers"] == 2
    assert card["plants"] == sorted({e.plant for e in entries})
    assert set(card["options"]) == {e.option for e in entries}
    assert len(card["cells"]) == len(entries)
    for c in card["cells"]:
        assert c["messages"] > 0 and c["replications"] == 2, c["scenario"]
        assert c["cpu_s"] is not None and c["cpu_s"] > 0
        assert c["verdict"] in ("pass", "fail", "inconclusive")
        assert c["targets"], c["scenario"]
        summary = bench_quick / "plants" / c["plant"] / c["option"] / "summary.json"
        assert summary.is_file()
    with (bench_quick / "scorecard.csv").open(newline="", encoding="utf-8") as file:
        lines = list(csv.DictReader(file))
    assert len(lines) == sum(len(c["targets"]) for c in card["cells"])
    printed = (bench_quick / "stdout.txt").read_text(encoding="utf-8")
    for plant in card["plants"]:
        assert plant in printed


def test_a_1ms_motion_loop_fails_on_a_grant_based_cell_and_on_wifi(bench_quick: Path) -> None:
    """TS 22.104's 1 ms motion-control row: on a grant-based DDDSU cell a position update waits
    for a scheduling request opportunity, a grant and the next U slot (one every 2.5 ms), so none
    arrives within 1 ms; on Wi-Fi 20 drives x 1000 updates/s of contention leave it far behind.
    Both fail decidedly (the whole interval of the on-time share below 99.999 %). On URLLC
    mini-slots most updates make it and the loop still fails: the host stacks, the UE's radio
    equipment and the wait for the configured grant take most of the 1 ms (docs/benchmarks.md
    explains it with numbers); its median is within the cycle, its tail beyond."""
    card = _card(bench_quick)
    for option in ("5g-grant", "wifi"):
        reliability = _target(_cell(card, "motion-control", option), "reliability")
        assert reliability["verdict"] == "fail", option
        assert reliability["ci95"][1] < 0.5, option
    urllc = _cell(card, "motion-control", "5g-urllc")
    on_time = _target(urllc, "reliability")["estimate"]
    grant = _target(_cell(card, "motion-control", "5g-grant"), "reliability")["estimate"]
    assert on_time > 0.5 > grant
    summary = json.loads(
        (bench_quick / "plants/motion-control/5g-urllc/summary.json").read_text(encoding="utf-8")
    )
    (row,) = summary["streams"]
    assert row["latency_s"]["p50"] < 1e-3 < row["latency_s"]["p99"]
    assert _target(_cell(card, "motion-control", "profinet"), "reliability")["verdict"] != "fail"


def test_massive_sensor_monitoring_passes_on_every_option(bench_quick: Path) -> None:
    """2,100 sensors at 3,000 messages/s with 5QI 3's 50 ms and 1e-3 pass on Ethernet, Wi-Fi,
    private LTE and 5G alike: every target's whole interval is above its requirement."""
    card = _card(bench_quick)
    options = [c for c in card["cells"] if c["plant"] == "condition-monitoring"]
    assert len(options) >= 4
    for c in options:
        assert c["verdict"] == "pass", (c["option"], c["targets"])


def _cameras(count: int, tmp_path: Path) -> dict:
    file = tmp_path / f"cameras-{count}.yaml"
    base = SUITE / "machine-vision" / "5g-grant.yaml"
    file.write_text(
        f"extends: {base}\nname: cameras-{count}\nduration: 8s\nreplications: 2\n"
        f"machines: {{camera: {{count: {count}}}}}\n",
        encoding="utf-8",
    )
    results = run_scenario(load_scenario(file))
    (row,) = results.streams
    return {"row": row, "utilisation": results.networks["cell"]["up"]["radio_utilisation"]}


def test_machine_vision_saturates_a_grant_based_cell_beyond_its_uplink_capacity(
    tmp_path: Path,
) -> None:
    """The sa-midband cell's uplink, from its profile: 273 PRBs x 12 subcarriers x MCS 20
    (64QAM, R = 567/1024, TS 38.214 Table 5.1.3.1-1) x 2 layers x (1 - 8 % overhead) / 8 =
    9.17 B per PRB and symbol, in the DDDSU pattern's 14 + 2 uplink symbols per 2.5 ms: 16.0 MB/s.
    A camera sends a 400 kB image every 250 ms, with TCP/IP headers per 1460 B segment 411 kB,
    sent 1.101 times on average at a 10 % first and 1 % second BLER: 1.81 MB/s of air. The cell
    carries 8.8 cameras: 7 are carried (the cell busy as 7 / 8.8 says, every image delivered but
    those of the last moments), 10 are not (the cell busy all the time, the images' backlog
    growing, every deadline missed)."""
    per_symbol = 12 * 6 * 567 / 1024 * 2 * (1 - 0.08) / 8
    capacity = 273 * per_symbol * 16 / 2.5e-3
    segments = math.ceil(400_000 / 1460)
    per_camera = (400_000 + 40 * segments) * 4 * (1 + 0.1 + 0.1 * 0.01)
    limit = capacity / per_camera
    assert 8 < limit < 9.5
    below = _cameras(math.floor(limit) - 1, tmp_path)
    assert below["utilisation"] == pytest.approx((math.floor(limit) - 1) / limit, rel=0.05)
    assert below["row"].in_flight <= math.floor(limit) - 1  # at most an image per camera
    assert below["row"].deadline_miss_ratio < 0.01
    above = _cameras(math.ceil(limit) + 1, tmp_path)
    assert above["utilisation"] > 0.97
    assert above["row"].in_flight > 4 * (math.ceil(limit) + 1)  # images queue up
    assert above["row"].deadline_miss_ratio > 0.5


def test_the_scorecard_is_the_same_on_one_worker_as_on_two(bench_quick: Path) -> None:
    """Two plants run again here, in this process: every figure of their cells but the CPU time
    equals the two-worker run's."""
    entries = discover(SUITE, plants=["plc-to-plc", "process-control"], quick=True)
    card = _card(bench_quick)
    for entry, results, cpu_s in run_suite(entries, Runner()):
        here = cell(entry, results, cpu_s).to_dict()
        there = _cell(card, entry.plant, entry.option)
        for volatile in ("cpu_s", "messages_per_cpu_s"):
            here.pop(volatile), there.pop(volatile)
        assert json.loads(json.dumps(here)) == there


def test_a_second_run_computes_nothing_it_has(bench_quick: Path, tmp_path: Path) -> None:
    """With the first run's store, the same plants are found there, not computed."""
    shutil.copytree(bench_quick / "store", tmp_path / "store")
    done = factory5g(
        "bench", SUITE, "--quick", "--plants", "process-control", "--out", tmp_path, "--quiet"
    )
    assert done.returncode == 0, done.stderr
    card = _card(tmp_path)
    assert card["plants"] == ["process-control"]
    assert all(c["cpu_s"] is None for c in card["cells"])  # found, not computed


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nowhere"], "nowhere: no such folder"),
        (["--plants", "moton-control"], "--plants: no plant 'moton-control' in the suite"),
        (["--options", "6g"], "--options: no option '6g' in the suite"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], says: str, tmp_path: Path) -> None:
    done = factory5g("bench", *args, "--quick", "--out", tmp_path / "out", cwd=ROOT)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert says in line and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_plant_file_without_its_card_is_refused(tmp_path: Path) -> None:
    plant = tmp_path / "my-plant"
    plant.mkdir()
    shutil.copy(SCENARIOS / "line3-intranet.yaml", plant / "ethernet.yaml")
    done = factory5g("bench", plant, "--out", tmp_path / "out")
    assert done.returncode == 2
    assert "ethernet.yaml: benchmark: missing" in done.stderr


def test_the_catalogue_page_is_generated_from_the_files() -> None:
    """docs/benchmarks.md up to its scorecard is what the files say today (regenerate it with
    factory5g bench and copy catalogue.md over it)."""
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    generated = catalogue_markdown(discover(SUITE), None)
    assert page.split(f"\n{SCORECARD_HEADING}\n")[0] == generated


def test_a_full_run_lengthens_a_plant_until_its_nines_are_decided(tmp_path: Path) -> None:
    """PLC to PLC on 1 GbE, 99.9999 % of 2,000 messages/s within 4 ms: its file's 10 s x 3 (57,000
    messages, none late) cannot show six nines, which take ln 40 / 1e-6 = 3.69 million messages
    on time. The full run lengthens it: 3.69 M / 2,000 / 3 replications, and a fifth more, 738 s
    each (on the fast engine, seconds); the cell says the file's own 10 s. Availability (a late
    message survived within the 4 ms survival time) passes. Reliability is decided, or says how
    many more messages it needs: the two industrial-PC stacks' lognormal tails (median 60 us, p99
    400 us) make about 1 message in 3 million later than 4 ms, close to the 1e-6 allowed. The
    Python API's scorecard says the same."""
    done = factory5g(
        "bench",
        SUITE,
        "--plants",
        "plc-to-plc",
        "--options",
        "ethernet",
        "--out",
        tmp_path,
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    found = _cell(_card(tmp_path), "plc-to-plc", "ethernet")
    assert found["lengthened_from_s"] == 10.0
    needed = math.log(40) / 1e-6 / 2000 / 3 * 1.2
    assert found["duration_s"] == pytest.approx(0.5 + needed, rel=0.01)
    assert found["engine"] == "fast"
    verdicts = {t["target"]: t for t in found["targets"]}
    assert verdicts["availability"]["verdict"] == "pass"
    reliability = verdicts["reliability"]
    seen = (
        int(reliability["reason"].split(" seen")[0].replace(",", ""))
        if reliability["verdict"] == "inconclusive"
        else None
    )
    assert reliability["verdict"] == "pass" or reliability["needed"] > seen
    import sim

    card = sim.bench(SUITE, plants=["plc-to-plc"], options=["ethernet"], out=tmp_path)
    (same,) = card.cells
    assert same.verdict == found["verdict"] and same.duration_s == found["duration_s"]
    assert card.to_dataframe()["verdict"].tolist() == [t["verdict"] for t in found["targets"]]
