"""`factory5g bridge` (sim.live.bridge): a real bridge between two Mosquitto brokers on free
loopback ports that carries each message through a network model of a scenario.

Real paho-mqtt clients and Mosquitto processes the tests start and stop; nothing mocked.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sim.live import LiveError
from sim.live.bridge import NetworkPath, format_bridge, run_bridge
from sim.live.brokers import MosquittoBroker, find_mosquitto, free_port
from sim.live.mqtt import BrokerURL, connect, disconnect, make_client, subscribe
from sim.scenario.loader import load_scenario

SCENARIO = """\
name: bridge-test
duration: 10s
seed: 5
networks:
  lan: {kind: parametric, latency: 1ms}
  wan50: {kind: parametric, latency: 50ms, rate: 100Mbps}
  slow: {kind: parametric, latency: 5ms, rate: 80kbps}
brokers:
  edge: {service_time: 20us}
  central: {service_time: 20us}
bridges:
  up: {from: edge, to: central, network: wan50, topics: ["plant/#"], qos: 1}
machines:
  cnc:
    network: lan
    broker: edge
    streams:
      spindle: {topic: "plant/cnc/{id}/spindle", every: 20ms, payload: 200B}
subscribers:
  historian: {broker: central, topics: ["plant/#"]}
"""


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "bridge.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture
def two_brokers(tmp_path: Path) -> Iterator[tuple[BrokerURL, BrokerURL]]:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    urls = []
    with_blocks = []
    try:
        for name in ("from", "to"):
            port = free_port()
            config = tmp_path / f"{name}.conf"
            config.write_text(
                f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            )
            broker = MosquittoBroker(config, port, log=tmp_path / f"{name}.log")
            broker.__enter__()
            with_blocks.append(broker)
            urls.append(BrokerURL("127.0.0.1", port))
        yield urls[0], urls[1]
    finally:
        for broker in with_blocks:
            broker.stop()


class Recorder:
    """A subscriber on the target broker: arrival time per payload."""

    def __init__(self, url: BrokerURL, topic: str = "#") -> None:
        self.got: dict[bytes, tuple[str, float, int, bool]] = {}
        self.lock = threading.Lock()
        self.client = make_client(url)
        self.client.on_message = self._on
        connect(self.client, url)
        subscribe(self.client, topic, 1)

    def _on(self, client, userdata, message) -> None:
        with self.lock:
            self.got[message.payload] = (
                message.topic,
                time.monotonic(),
                message.qos,
                message.retain,
            )

    def close(self) -> None:
        disconnect(self.client)


def test_network_path_adds_the_model_delay(scenario_file: Path) -> None:
    """Offline: the model's constant 50 ms latency (plus serialisation at 100 Mbit/s)."""
    from sim.live.bridge import _BridgeMessage

    path = NetworkPath(load_scenario(scenario_file), "wan50")
    for i in range(10):
        path.offer(_BridgeMessage("plant/x", b"x" * 100, 1, False, i * 0.01), i * 0.01)
    assert path.due(0.049) == []
    out = path.due(1.0)
    assert len(out) == 10
    with pytest.raises(LiveError, match="no network"):
        NetworkPath(load_scenario(scenario_file), "nope")


def test_bridge_50ms_network_p50(scenario_file: Path, two_brokers) -> None:
    """Messages at 50/s through a 50 ms network: measured publish-to-receive p50 in 50-75 ms;
    topic, payload, QoS and retain unchanged; the rate limit of a slow network queues."""
    source, target = two_brokers
    scenario = load_scenario(scenario_file)
    stop, ready = threading.Event(), threading.Event()
    box: list = []
    worker = threading.Thread(
        target=lambda: box.append(
            run_bridge(
                scenario, "wan50", source, target, ["plant/#"], duration=20, stop=stop, ready=ready
            )
        )
    )
    recorder = Recorder(target)
    pub = make_client(source)
    sent: dict[bytes, float] = {}
    try:
        worker.start()
        assert ready.wait(10)
        connect(pub, source)
        for i in range(100):
            payload = f"m{i:04d}".encode() + b"." * 150
            sent[payload] = time.monotonic()
            pub.publish(f"plant/line/{i % 3}/v", payload, qos=1)
            time.sleep(0.02)
        pub.publish("other/topic", b"not bridged", qos=1)
        time.sleep(0.5)
        stop.set()
        worker.join(10)
    finally:
        stop.set()
        disconnect(pub)
        recorder.close()
    (stats,) = box
    print(format_bridge(stats))
    assert stats.received == 100 and stats.forwarded == 100
    with recorder.lock:
        got = dict(recorder.got)
    assert set(got) == set(sent)
    delays = [got[p][1] - sent[p] for p in sent]
    p50 = float(np.percentile(delays, 50))
    print(f"bridge p50 {p50 * 1e3:.2f} ms, p99 {np.percentile(delays, 99) * 1e3:.2f} ms")
    assert 0.050 <= p50 <= 0.075
    assert min(delays) >= 0.050
    for i, payload in enumerate(sent):
        topic, _, qos, retain = got[payload]
        assert topic == f"plant/line/{i % 3}/v" and qos == 1 and not retain


def test_bridge_cli_subprocess(scenario_file: Path, two_brokers) -> None:
    """The command: runs for --for, carries a retained message unchanged, prints a summary."""
    source, target = two_brokers
    command = [sys.executable, "-m", "sim", "bridge", "--from", f"mqtt://127.0.0.1:{source.port}"]
    command += ["--to", f"mqtt://127.0.0.1:{target.port}", "--topics", "plant/#", "a/b"]
    command += ["--scenario", str(scenario_file), "--network", "slow", "--for", "6s"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    recorder = Recorder(target)
    try:
        deadline = time.monotonic() + 10
        pub = make_client(source)
        connect(pub, source)
        # Publish until the bridge (starting up) has carried something.
        while time.monotonic() < deadline and b"first" not in recorder.got:
            pub.publish("a/b", b"first", qos=1).wait_for_publish(2)
            time.sleep(0.2)
        pub.publish("plant/keep", b"retained!", qos=1, retain=True).wait_for_publish(2)
        # 20 x 1 kB in one go through 80 kbit/s: about 0.1 s each, queued one after another.
        t0 = time.monotonic()
        infos = [pub.publish("plant/bulk", bytes([65 + i]) * 1000, qos=1) for i in range(20)]
        for info in infos:
            info.wait_for_publish(2)
        disconnect(pub)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        recorder.close()
    assert process.returncode == 0, err
    assert "forwarded" in out
    with recorder.lock:
        got = dict(recorder.got)
    assert got[b"retained!"][0] == "plant/keep"
    assert got[b"retained!"][3] is False  # live delivery of a retained message: flag cleared
    bulk = sorted(got[b][1] - t0 for b in (bytes([65 + i]) * 1000 for i in range(20)) if b in got)
    assert len(bulk) >= 10  # the rest may still be in the network when --for ends
    gaps = np.diff(bulk)
    # 1000 B + MQTT/TCP/IP/Ethernet framing at 80 kbit/s: about 0.105 s each, one after another.
    assert 0.09 < float(np.median(gaps)) < 0.13


def test_bridge_with_an_unknown_network_is_bad_input(scenario_file: Path) -> None:
    """A network the scenario lacks: exit 2 before any broker is contacted, one line naming the
    file, the option and the networks there are, with the closest one; no traceback."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "bridge",
            "--from",
            "mqtt://127.0.0.1:1",
            "--to",
            "mqtt://127.0.0.1:2",
            "--topics",
            "#",
            "--scenario",
            str(scenario_file),
            "--network",
            "wan5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"{scenario_file}: --network: no network 'wan5' in the scenario")
    assert "did you mean 'wan50'?" in line
    assert "Traceback" not in done.stderr
