"""`factory5g live` (sim.live.live): schedules drawn like the simulator's, JSON payloads, and real
runs against Mosquitto on free loopback ports, including a broker restart with QoS 1.

Real paho-mqtt clients and real Mosquitto processes that the tests start and stop; nothing mocked.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.live.brokers import MosquittoBroker, find_mosquitto, free_port
from sim.live.live import (
    LiveResult,
    StreamReport,
    Values,
    format_live,
    live_streams,
    payload_json,
    run_live,
    timeline,
)
from sim.live.mqtt import BrokerURL, connect, disconnect, make_client, subscribe
from sim.scenario.loader import load_scenario

needs_mosquitto = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed")

SCENARIO = """\
name: live-test
duration: 10s
seed: 3
networks:
  lan: {kind: parametric, latency: 1ms}
  wan: {kind: parametric, latency: 50ms, rate: 100Mbps}
brokers:
  edge: {service_time: 20us}
machines:
  cnc:
    count: 2
    network: lan
    broker: edge
    streams:
      spindle: {topic: "t/cnc/{id}/spindle", every: 20ms, payload: 200B, qos: 1}
  robot:
    network: lan
    broker: edge
    streams:
      joints: {topic: "t/robot/{id}/joints", every: 50ms, payload: 60B, qos: 0}
  sensors:
    network: lan
    broker: edge
    streams:
      env: {topic: "t/env/{id}", poisson: 20/s, payload: {uniform: [48B, 96B]}, qos: 1}
subscribers:
  scada: {broker: edge, topics: ["t/#"]}
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "live.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def mosquitto(tmp_path: Path, port: int, persistence: bool = False) -> MosquittoBroker:
    config = tmp_path / f"mosquitto-{port}.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "set_tcp_nodelay true"]
    if persistence:
        (tmp_path / "db").mkdir(exist_ok=True)
        lines += ["persistence true", f"persistence_location {tmp_path / 'db'}/"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lines.append(f"user {getpass.getuser()}")  # else it cannot write its database here
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return MosquittoBroker(config, port, log=tmp_path / f"mosquitto-{port}.log")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    with mosquitto(tmp_path, free_port()) as process:
        yield process


# ------------------------------------------------------------------------------------ offline


def test_schedule_follows_the_stream_laws(scenario_file: Path) -> None:
    """Periodic streams give one message per period, Poisson ones about their rate; sizes follow
    the payload law; times are ordered."""
    scenario = load_scenario(scenario_file)
    events = list(timeline(live_streams(scenario), 10.0))
    times = [when for when, _, _ in events]
    assert times == sorted(times)
    count: dict[str, int] = {}
    for _, stream, size in events:
        count[stream.topic] = count.get(stream.topic, 0) + 1
        if stream.stream == "spindle":
            assert size == 200
        if stream.stream == "env":
            assert 48 <= size <= 96
    assert count["t/cnc/0/spindle"] in (499, 500)
    assert count["t/robot/0/joints"] in (199, 200)
    assert 150 < count["t/env/0"] < 250
    # Same seed, same schedule.
    again = [(w, s.topic, n) for w, s, n in timeline(live_streams(scenario), 10.0)]
    assert again == [(w, s.topic, n) for w, s, n in events]


def test_payloads_are_json_padded_to_size() -> None:
    values = Values("cnc", "spindle", 0, 1)
    fields = {"ts": 1.5, "seq": 1, "machine": "cnc-0", **values.next()}
    data = payload_json(fields, 300)
    assert len(data) == 300
    decoded = json.loads(data)
    assert decoded["seq"] == 1 and {"spindle_rpm", "load_pct", "temp_c"} <= decoded.keys()
    short = payload_json(fields, 10)  # smaller than the JSON: no pad, never truncated
    assert "pad" not in json.loads(short)
    robot = Values("robot", "joints", 2, 1).next()
    assert set(robot) == {f"j{i}" for i in range(1, 7)}
    env = Values("sensors", "env", 0, 1)
    first, later = env.next()["temperature_c"], [env.next()["temperature_c"] for _ in range(500)]
    assert any(t != first for t in later)  # drifts
    assert all(-10 <= t <= 60 for t in later)


# ---------------------------------------------------------------------------------- real runs


@needs_mosquitto
def test_live_reaches_mosquitto_sub_as_json(scenario_file: Path, broker: MosquittoBroker) -> None:
    """The CLI publishes; mosquitto_sub sees JSON with ts and seq; the table reports what came
    back."""
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "t/#", "-v"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.3)
        started = time.time()
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "sim",
                "live",
                str(scenario_file),
                "--broker",
                broker.url,
                "--for",
                "2s",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        time.sleep(0.3)
    finally:
        sub.terminate()
        out, _ = sub.communicate(timeout=5)
    assert run.returncode == 0, run.stderr
    lines = [line for line in out.splitlines() if line]
    assert len(lines) > 100
    topics = set()
    for line in lines:
        topic, payload = line.split(" ", 1)
        data = json.loads(payload)
        topics.add(topic)
        assert isinstance(data["seq"], int) and data["seq"] >= 1
        assert started - 1 < data["ts"] < time.time()
        assert data["machine"].split("-")[0] in ("cnc", "robot", "sensors")
    assert {"t/cnc/0/spindle", "t/cnc/1/spindle", "t/robot/0/joints", "t/env/0"} <= topics
    spindle = [json.loads(line.split(" ", 1)[1]) for line in lines if "spindle" in line]
    assert all(len(json.dumps(d, separators=(",", ":"))) == 200 for d in spindle)
    table = run.stdout
    assert "spindle" in table and "joints" in table and "p50 ms" in table and "lost" in table
    assert any(line.startswith(f"{len(lines)} sent") for line in table.splitlines())
    assert table.splitlines()[-1].startswith("the broker kept up")


@needs_mosquitto
def test_live_api_counts_and_delays(scenario_file: Path, broker: MosquittoBroker) -> None:
    scenario = load_scenario(scenario_file)
    url = BrokerURL("127.0.0.1", broker.port)
    result = run_live(scenario, url, duration=1.5, speed=2.0, drain=2.0)
    assert result.sent > 100
    assert result.received == result.sent  # loopback, nothing lost, even QoS 0
    assert result.lost == 0 and result.late == 0
    for report in result.reports:
        p50 = report.percentile(50)
        assert p50 is not None and 0 <= p50 < 0.1
    assert result.elapsed < 4.0  # 1.5 s of scenario at speed 2 is 0.75 s, plus the drain
    print(format_live(result))


@needs_mosquitto
def test_broker_restart_with_qos1_loses_nothing(tmp_path: Path) -> None:
    """Mosquitto (persistence on) is stopped and started again while `live` publishes QoS 1:
    every seq of every topic still reaches an outside subscriber with a persistent session, and
    live's own subscriber."""
    scenario_text = SCENARIO.replace("qos: 0", "qos: 1")
    path = tmp_path / "qos1.yaml"
    path.write_text(scenario_text, encoding="utf-8")
    scenario = load_scenario(path)
    port = free_port()
    url = BrokerURL("127.0.0.1", port)
    broker = mosquitto(tmp_path, port, persistence=True)
    broker.__enter__()
    seen: dict[str, set[int]] = {}
    lock = threading.Lock()

    def on_message(client, userdata, message) -> None:
        data = json.loads(message.payload)
        with lock:
            seen.setdefault(message.topic, set()).add(data["seq"])

    outside = make_client(url, f"outside-{uuid.uuid4().hex[:6]}", clean_session=False)
    outside.reconnect_delay_set(0.1, 1)
    outside.on_message = on_message
    result_box = []
    try:
        connect(outside, url)
        outside.subscribe("t/#", 1)
        time.sleep(0.3)
        worker = threading.Thread(
            target=lambda: result_box.append(
                run_live(scenario, url, duration=4.0, drain=6.0, late_after=0.5)
            )
        )
        worker.start()
        time.sleep(1.2)
        broker.stop()  # SIGTERM: Mosquitto writes its persistence file
        time.sleep(1.0)  # publishing goes on meanwhile, into paho's queue
        broker = mosquitto(tmp_path, port, persistence=True)
        broker.__enter__()
        worker.join(30)
        assert not worker.is_alive()
        time.sleep(0.5)
    finally:
        disconnect(outside)
        broker.stop()
    (result,) = result_box
    print(format_live(result))
    assert result.sent > 300
    with lock:
        total = 0
        for topic, seqs in seen.items():
            assert seqs == set(range(1, max(seqs) + 1)), f"{topic}: gaps"
            total += len(seqs)
    assert total == result.sent
    assert result.received == result.sent
    # the 1 s without a broker: what was published meanwhile came back late, and the report says
    # so (nothing lost: QoS 1 and persistent sessions)
    assert result.lost == 0
    # 140 msg/s (2 x 50 + 20 + 20); those sent in the first half of the 1 s outage wait at least
    # 0.5 s for the broker, so at least a quarter of a second's worth are late
    assert result.late >= 0.25 * 140
    report = format_live(result)
    assert f"the broker fell behind: 0 message(s) lost and {result.late} late" in report


@needs_mosquitto
def test_a_retained_stream_leaves_its_last_message_for_a_late_subscriber(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    """A stream with ``retain: true`` is published retained: after `live` has stopped, a client
    that subscribes gets, at once and flagged retained, the last message of each topic (the
    highest ``seq`` sent), and nothing from the streams without ``retain``."""
    path = tmp_path / "retained.yaml"
    path.write_text(SCENARIO.replace("qos: 0}", "qos: 0, retain: true}"), encoding="utf-8")
    scenario = load_scenario(path)
    url = BrokerURL("127.0.0.1", broker.port)
    result = run_live(scenario, url, duration=1.0, speed=1.0, drain=1.0)
    joints = next(r for r in result.reports if r.stream == "joints")
    assert joints.sent > 5

    got: list[tuple[str, dict, bool]] = []
    late = make_client(url, f"late-{uuid.uuid4().hex[:8]}")
    late.on_message = lambda _c, _u, m: got.append((m.topic, json.loads(m.payload), m.retain))
    connect(late, url)
    subscribe(late, "t/#", qos=1)
    time.sleep(0.5)
    disconnect(late)
    assert [(topic, retained) for topic, _, retained in got] == [("t/robot/0/joints", True)]
    assert got[0][1]["seq"] == joints.sent


@needs_mosquitto
def test_messages_lost_while_the_broker_is_away_are_reported(tmp_path: Path) -> None:
    """QoS 0 while the broker restarts: what is published meanwhile never comes back, and the
    table's ``lost`` column and the closing lines say so."""
    port = free_port()
    url = BrokerURL("127.0.0.1", port)
    (tmp_path / "live.yaml").write_text(SCENARIO, encoding="utf-8")
    scenario = load_scenario(tmp_path / "live.yaml")
    broker = mosquitto(tmp_path, port)
    broker.__enter__()
    box: list[LiveResult] = []
    try:
        worker = threading.Thread(
            target=lambda: box.append(run_live(scenario, url, duration=3.0, drain=2.0))
        )
        worker.start()
        time.sleep(1.0)
        broker.stop()
        time.sleep(0.8)
        broker = mosquitto(tmp_path, port)
        broker.__enter__()
        worker.join(30)
    finally:
        broker.stop()
    (result,) = box
    qos0 = [r for r in result.reports if r.qos == 0]
    assert sum(r.lost for r in qos0) > 0
    assert result.lost == sum(r.lost for r in result.reports) == result.sent - result.received
    report = format_live(result)
    header, *rows = report.splitlines()[: 1 + len(result.reports)]
    assert header.split()[5] == "lost"
    for row, r in zip(rows, result.reports, strict=True):
        assert int(row.split()[5]) == r.lost
    assert f"the broker fell behind: {result.lost} message(s) lost" in report


def test_the_report_names_a_publisher_that_falls_behind() -> None:
    """A run whose publisher lagged its schedule says so, apart from the broker's figures."""
    report = StreamReport("cnc", "spindle", 0, sent=10, seen={("t", i) for i in range(10)})
    result = LiveResult([report], elapsed=1.0, sent=10, behind=0.4)
    text = format_live(result)
    assert "the broker kept up" in text
    assert "the publisher fell 0.40 s behind the scenario's schedule" in text
