"""`factory5g probe` (sim.live.probe): broker URLs, the derivation of the broker block, and real
probes of Mosquitto and the embedded broker on free loopback ports.

The probes are short (a fraction of a second per phase) but real: paho-mqtt clients, a broker
process the fixture starts and stops, and figures that must be sane for loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.live.brokers import (
    EmbeddedBroker,
    MosquittoBroker,
    find_mosquitto,
    free_port,
    render_variant,
)
from sim.live.credentials import DEV_USERS
from sim.live.embedded import amqtt_available
from sim.live.mqtt import BrokerURL, BrokerURLError, ConnectError, parse_broker_url
from sim.live.probe import (
    ProbeResult,
    ProbeSettings,
    Saturation,
    broker_yaml,
    derive,
    format_seconds,
    probe,
)
from sim.scenario.schema import Scenario

needs_mosquitto = pytest.mark.skipif(
    find_mosquitto() is None, reason="mosquitto is not installed (.ci/run installs it with apt-get)"
)
needs_amqtt = pytest.mark.skipif(
    not amqtt_available(), reason="amqtt is not installed (pip install -e '.[test]' installs it)"
)
SHORT = ProbeSettings(qos=1, rate=200.0, duration=0.6, window=50)


# ------------------------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mqtt://127.0.0.1", BrokerURL("127.0.0.1", 1883)),
        ("mqtt://localhost:1884", BrokerURL("localhost", 1884)),
        ("127.0.0.1:1999", BrokerURL("127.0.0.1", 1999)),
        ("mqtts://broker.plant", BrokerURL("broker.plant", 8883, tls=True)),
        ("MQTTS://u@h:9", BrokerURL("h", 9, tls=True, username="u")),
        ("mqtt://probe:p%40ss@[::1]:1883", BrokerURL("::1", 1883, False, "probe", "p@ss")),
    ],
)
def test_broker_urls(text: str, expected: BrokerURL) -> None:
    """mqtt:// and mqtts:// with default ports 1883 / 8883, user:password@ percent-decoded."""
    assert parse_broker_url(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://h:1", "unsupported scheme"),
        ("mqtt://:1883", "no host"),
        ("mqtt://h:1/plant", "no path"),
        ("mqtt://h:99999", "not a broker URL"),
    ],
)
def test_bad_broker_urls(text: str, message: str) -> None:
    with pytest.raises(BrokerURLError, match=message):
        parse_broker_url(text)


def test_printed_urls_hide_the_password(tmp_path: Path) -> None:
    url = parse_broker_url("mqtts://probe:secret@127.0.0.1:8883")
    assert str(url) == "mqtts://probe@127.0.0.1:8883"
    assert "secret" not in str(url)
    (tmp_path / "pw").write_text("from-file\nignored\n")
    with_file = url.with_credentials(username="other", password_file=str(tmp_path / "pw"))
    assert (with_file.username, with_file.password) == ("other", "from-file")
    with pytest.raises(BrokerURLError, match="does not exist"):
        url.with_credentials(ca_file=str(tmp_path / "missing.crt"))


# ------------------------------------------------------------------------------- derivation


def phase(subscribers: int, throughput: float, cpu_per_message: float | None = None) -> Saturation:
    seconds = 2.0
    cpu = None if cpu_per_message is None else cpu_per_message * throughput * seconds
    return Saturation(subscribers, 0, 0, seconds, throughput, cpu)


def test_two_subscriber_counts_separate_service_and_fanout() -> None:
    """c1 = s + f, c2 = s + 2 f: 1/20000 = 50 us and 1/12500 = 80 us give f = 30 us, s = 20 us."""
    service, fanout, how = derive([phase(1, 20_000.0), phase(2, 12_500.0)])
    assert service == pytest.approx(20e-6)
    assert fanout == pytest.approx(30e-6)
    assert "1 / saturation throughput" in how


def test_broker_cpu_time_wins_over_throughput_when_known() -> None:
    service, fanout, how = derive([phase(1, 20_000.0, 10e-6), phase(2, 12_500.0, 16e-6)])
    assert (service, fanout) == (pytest.approx(4e-6), pytest.approx(6e-6))
    assert "broker CPU time" in how


@pytest.mark.parametrize(
    "phases",
    [
        [phase(1, 20_000.0)],  # no 2-subscriber phase
        [phase(1, 20_000.0), phase(2, 21_000.0)],  # fan-out cost lost in the noise
        [phase(1, 20_000.0), phase(2, 5_000.0)],  # service time would come out negative
    ],
)
def test_cost_is_split_half_and_half_when_it_cannot_be_separated(phases) -> None:
    service, fanout, how = derive(phases)
    assert service == fanout == pytest.approx(0.5 / 20_000.0)
    assert "half and half" in how


def test_times_are_written_with_units_the_scenarios_read() -> None:
    from sim.scenario.units import parse_time

    for seconds in (1.234e-6, 45.678e-6, 2.5e-3, 1.5):
        assert parse_time(format_seconds(seconds)) == pytest.approx(seconds, rel=1e-3)


# --------------------------------------------------------------------------- real brokers


@pytest.fixture(
    params=[
        pytest.param("mosquitto", marks=needs_mosquitto),
        pytest.param("embedded", marks=needs_amqtt),
    ]
)
def broker(request, tmp_path: Path) -> Iterator[tuple[str, BrokerURL, Path | None]]:
    """One broker on a free port: the shipped central.conf rendered for Mosquitto, or amqtt."""
    port = free_port()
    if request.param == "mosquitto":
        rendered = render_variant(tmp_path, edge_port=free_port(), central_port=port)
        with MosquittoBroker(rendered.central, port):
            yield "mosquitto", BrokerURL("127.0.0.1", port), rendered.central
    else:
        with EmbeddedBroker(port, log=tmp_path / "broker.log"):
            yield "embedded", BrokerURL("127.0.0.1", port), None


def in_a_scenario(block_yaml: str) -> Scenario:
    """The probe's brokers: block in a minimal scenario, validated by the schema."""
    brokers = yaml.safe_load(block_yaml)["brokers"]
    return Scenario.model_validate(
        {
            "name": "calibrated",
            "duration": "1s",
            "brokers": brokers,
            "networks": {"lan": {"kind": "parametric", "latency": "1ms"}},
            "machines": {
                "m": {
                    "network": "lan",
                    "broker": next(iter(brokers)),
                    "streams": {"s": {"topic": "plant/m", "every": "10ms", "payload": "64B"}},
                }
            },
        }
    )


def test_probe_gives_sane_figures_and_a_block_scenarios_accept(broker) -> None:
    """Loopback: 0 < p50 < 100 ms, every latency-phase message delivered, > 100 msg/s at
    saturation; the derived times are positive and what the YAML block says."""
    kind, url, config = broker
    result = probe(url, SHORT, config=config)
    assert isinstance(result, ProbeResult)
    latency = result.latency
    assert latency.received == latency.sent == round(SHORT.rate * SHORT.duration)
    assert 0 < latency.p50 < 0.1
    assert latency.p50 <= latency.p99 <= latency.max
    assert [p.subscribers for p in result.saturation] == [1, 2]
    for sat in result.saturation:
        assert sat.throughput > 100, sat
        assert sat.lost == 0
    assert result.service_time > 0 and result.fanout_time > 0
    # The probe found the broker's process from its port (for its CPU time).
    assert result.broker_pid is not None
    if kind == "mosquitto":
        assert result.server and result.server.startswith("mosquitto version")
        assert result.max_queued_source.startswith("max_queued_messages in")
    assert result.max_queued == 1000

    text = broker_yaml(result, name="edge")
    assert text.startswith("# Measured by `factory5g probe mqtt://127.0.0.1:")
    scenario = in_a_scenario(text)
    edge = scenario.brokers["edge"]
    assert edge.service_time == pytest.approx(result.service_time, rel=1e-3)
    assert edge.fanout_time == pytest.approx(result.fanout_time, rel=1e-3)
    assert edge.max_queued == 1000


def any_broker(tmp_path: Path):
    """Mosquitto where installed, else the embedded broker (a context manager)."""
    port = free_port()
    if find_mosquitto() is not None:
        rendered = render_variant(tmp_path, edge_port=free_port(), central_port=port)
        return port, MosquittoBroker(rendered.central, port)
    if amqtt_available():
        return port, EmbeddedBroker(port, log=tmp_path / "broker.log")
    pytest.skip("neither mosquitto nor amqtt is installed")


def test_probe_command_writes_the_block_to_a_file(tmp_path: Path, capsys) -> None:
    """`factory5g probe URL --out FILE`: a table on stdout, the commented block in FILE, with
    max_queued read from the broker's file given with --config."""
    port, server = any_broker(tmp_path)
    config = tmp_path / "broker.conf"
    config.write_text("listener 1\nmax_queued_messages 100\nmax_queued_messages 250\n")
    out = tmp_path / "calibrated.yaml"
    with server:
        status = main(
            [
                "probe",
                f"mqtt://127.0.0.1:{port}",
                "--qos",
                "0",
                "--rate",
                "100/s",
                "--size",
                "1kB",
                "--duration",
                "300ms",
                "--no-fanout",
                "--name",
                "central",
                "--config",
                str(config),
                "--out",
                str(out),
            ]
        )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "latency at 100 msg/s" in printed.out
    assert "1000 B payloads" in printed.out
    block = yaml.safe_load(out.read_text())["brokers"]["central"]
    assert block["max_queued"] == 250
    assert "half and half" in out.read_text()
    scenario = in_a_scenario(out.read_text())
    assert scenario.brokers["central"].service_time == scenario.brokers["central"].fanout_time


@needs_mosquitto
def test_probe_over_tls_with_a_password_file(tmp_path: Path, capsys) -> None:
    """mqtts:// with --tls-ca and user `probe` from the URL, password from --password-file."""
    edge_port = free_port()
    rendered = render_variant(tmp_path, edge_port=edge_port, central_port=free_port(), secure=True)
    (tmp_path / "pw").write_text(DEV_USERS["probe"] + "\n")
    with MosquittoBroker(rendered.edge, edge_port, tls=True):
        status = main(
            [
                "probe",
                f"mqtts://probe@127.0.0.1:{edge_port}",
                "--password-file",
                str(tmp_path / "pw"),
                "--tls-ca",
                str(rendered.ca_file),
                "--duration",
                "300ms",
                "--no-fanout",
                "--quiet",
            ]
        )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert yaml.safe_load(printed.out)["brokers"]["edge"]["max_queued"] == 1000


def test_probe_of_nothing_fails_with_one_line(capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        status = main(["probe", f"mqtt://127.0.0.1:{port}", "--duration", "300ms"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(f"factory5g probe: cannot connect to mqtt://127.0.0.1:{port}")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "0"], "must be more than 0"),
        (["--duration", "10min"], "duration must be between"),
        (["--clients", "100"], "clients must be between"),
        (["--size", "4B"], "size must be between"),
    ],
)
def test_probe_refuses_settings_out_of_bounds(args: list[str], message: str, capsys) -> None:
    """Everything stops by itself: lengths, rates and client counts are bounded."""
    status = main(["probe", "mqtt://127.0.0.1:1", *args])
    assert status == 2
    assert message in capsys.readouterr().err


def test_connect_error_names_the_broker() -> None:
    url = BrokerURL("127.0.0.1", free_port())
    from sim.live.mqtt import connect, make_client

    with pytest.raises(ConnectError, match=str(url)):
        connect(make_client(url), url)
