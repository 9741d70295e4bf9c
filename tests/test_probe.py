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
    per_byte_cost,
    probe,
)
from sim.scenario.schema import Scenario

needs_mosquitto = pytest.mark.skipif(
    find_mosquitto() is None, reason="mosquitto is not installed (.ci/run installs it with apt-get)"
)
needs_amqtt = pytest.mark.skipif(
    not amqtt_available(), reason="amqtt is not installed (pip install -e '.[test]' installs it)"
)
SHORT = ProbeSettings(qos=1, rate=200.0, duration=0.5, window=50)


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


def phase(
    subscribers: int,
    throughput: float,
    cpu_per_message: float | None = None,
    size: int = 0,
) -> Saturation:
    seconds = 2.0
    cpu = None if cpu_per_message is None else cpu_per_message * throughput * seconds
    return Saturation(subscribers, 0, 0, seconds, throughput, cpu, size=size)


def test_two_subscriber_counts_separate_service_and_fanout() -> None:
    """c1 = s + f, c2 = s + 2 f: 1/20000 = 50 us and 1/12500 = 80 us give f = 30 us, s = 20 us."""
    service, fanout, per_byte, how = derive([phase(1, 20_000.0), phase(2, 12_500.0)])
    assert service == pytest.approx(20e-6)
    assert fanout == pytest.approx(30e-6)
    assert per_byte is None  # no large-payload phase: not measured
    assert "1 / saturation throughput" in how


def test_broker_cpu_time_wins_over_throughput_when_known() -> None:
    service, fanout, _, how = derive([phase(1, 20_000.0, 10e-6), phase(2, 12_500.0, 16e-6)])
    assert (service, fanout) == (pytest.approx(4e-6), pytest.approx(6e-6))
    assert "broker CPU time" in how


PER_BYTE = 16e-6 / 16_384  # 10 us at 64 B, 26 us at 16448 B: 16 us more for 16384 B more


def test_per_byte_cost_is_the_slope_between_two_payload_sizes() -> None:
    assert per_byte_cost(10e-6, 26e-6, 64, 16_448) == pytest.approx(PER_BYTE)
    assert per_byte_cost(10e-6, 9e-6, 64, 16_448) == 0.0  # cheaper when larger: noise, clamped
    with pytest.raises(ValueError, match="more than the small"):
        per_byte_cost(10e-6, 26e-6, 64, 64)


def test_per_byte_share_comes_off_the_service_time() -> None:
    """c1 = 10 us at 64 B, c2 = 16 us with 2 subscribers, cL = 26 us at 16448 B: fanout_time
    6 us, per_byte_time 16 us / 16384 B, service_time 2 c1 - c2 - 64 B * per_byte_time; the three
    figures give back all three measured costs."""
    phases = [
        phase(1, 20_000.0, 10e-6, size=64),
        phase(2, 12_500.0, 16e-6, size=64),
        phase(1, 5_000.0, 26e-6, size=16_448),
    ]
    service, fanout, per_byte, how = derive(phases)
    assert per_byte == pytest.approx(PER_BYTE)
    assert fanout == pytest.approx(6e-6)
    assert service == pytest.approx(4e-6 - 64 * PER_BYTE)
    for (subscribers, size), measured in {
        (1, 64): 10e-6,
        (2, 64): 16e-6,
        (1, 16_448): 26e-6,
    }.items():
        assert service + per_byte * size + subscribers * fanout == pytest.approx(measured)
    assert "per_byte_time = (cL - c1) / (16448 B - 64 B)" in how
    assert "2 c1 - c2 - per_byte_time * 64 B" in how


def test_per_byte_share_comes_off_before_the_half_and_half_split() -> None:
    service, fanout, per_byte, how = derive(
        [phase(1, 20_000.0, 10e-6, size=64), phase(1, 5_000.0, 26e-6, size=16_448)]
    )
    assert per_byte == pytest.approx(PER_BYTE)
    assert service == fanout == pytest.approx((10e-6 - 64 * PER_BYTE) / 2)
    assert "half and half" in how


@pytest.mark.parametrize(
    ("c_large", "large", "why"),
    [
        (9e-6, 16_448, "noise"),  # the large payload came out cheaper
        (30e-6, 1_100, "faster than the payload"),  # slope * 1000 B > c1: no affine fit
    ],
)
def test_per_byte_time_is_zero_when_it_cannot_be_measured(c_large, large, why) -> None:
    small = 64 if large > 10_000 else 1_000
    service, fanout, per_byte, how = derive(
        [
            phase(1, 20_000.0, 10e-6, size=small),
            phase(2, 12_500.0, 16e-6, size=small),
            phase(1, 5_000.0, c_large, size=large),
        ]
    )
    assert per_byte == 0.0
    assert (service, fanout) == (pytest.approx(4e-6), pytest.approx(6e-6))
    assert why in how


def test_large_size_must_be_larger_than_size_or_zero() -> None:
    ProbeSettings(size=64, large_size=0).check()
    ProbeSettings(size=64, large_size=65).check()
    for large in (64, 32, 2_000_000):
        with pytest.raises(ValueError, match="large_size must be more than size"):
            ProbeSettings(size=64, large_size=large).check()


@pytest.mark.parametrize(
    "phases",
    [
        [phase(1, 20_000.0)],  # no 2-subscriber phase
        [phase(1, 20_000.0), phase(2, 21_000.0)],  # fan-out cost lost in the noise
        [phase(1, 20_000.0), phase(2, 5_000.0)],  # service time would come out negative
    ],
)
def test_cost_is_split_half_and_half_when_it_cannot_be_separated(phases) -> None:
    service, fanout, _, how = derive(phases)
    assert service == fanout == pytest.approx(0.5 / 20_000.0)
    assert "half and half" in how


def test_times_are_written_with_units_the_scenarios_read() -> None:
    from sim.scenario.units import parse_time

    for seconds in (3.2e-9, 0.1234e-9, 1.234e-6, 45.678e-6, 2.5e-3, 1.5):
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
    sizes = [(p.subscribers, p.size) for p in result.saturation]
    assert sizes == [(1, SHORT.size), (2, SHORT.size), (1, SHORT.large_size)]
    for sat in result.saturation:
        assert sat.throughput > 100, sat
        assert sat.lost == 0
    assert result.service_time > 0 and result.fanout_time > 0
    assert result.per_byte_time is not None and result.per_byte_time >= 0
    # The figures give back the 1-subscriber cost at the small size: the broker's CPU time per
    # message when every phase has it (/proc), else 1 / throughput.
    first = result.saturation[0]
    by_cpu = all(p.cpu_per_message for p in result.saturation)
    c1 = first.cpu_per_message if by_cpu else 1 / first.throughput
    assert result.service_time + result.per_byte_time * SHORT.size + result.fanout_time == (
        pytest.approx(c1)
    )
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
    assert edge.per_byte_time >= 0
    assert edge.per_byte_time == pytest.approx(result.per_byte_time, rel=1e-3, abs=1e-15)
    assert "per_byte_time" in yaml.safe_load(text)["brokers"]["edge"]
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
    assert "1000 B payloads (16384 B in the large-payload phase)" in printed.out
    assert "1 subscriber(s), 16384 B" in printed.out
    assert "per_byte_time" in printed.out
    block = yaml.safe_load(out.read_text())["brokers"]["central"]
    assert block["max_queued"] == 250
    assert "per_byte_time" in block
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
                "--large-size",
                "0",
                "--quiet",
            ]
        )
    printed = capsys.readouterr()
    assert status == 0, printed.err
    block = yaml.safe_load(printed.out)["brokers"]["edge"]
    assert block["max_queued"] == 1000
    assert "per_byte_time" not in block  # phase skipped: left to the scenario's default
    assert "per_byte_time not measured" in printed.out


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
        (["--size", "1kB", "--large-size", "512B"], "large_size must be more than size"),
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
