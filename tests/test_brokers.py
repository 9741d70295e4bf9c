"""Real brokers on free loopback ports (sim.live.brokers): the shipped Mosquitto files, the embedded
broker, the secured variant, and `factory5g brokers up / down`.

Every broker and bridge runs in a process a fixture or a ``with`` block starts and stops, with
real paho-mqtt clients; nothing is mocked. Mosquitto tests are skipped where it is not installed
(`.ci/run` installs it), embedded-broker tests where amqtt is not (the `test` extra installs it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.live.brokers import (
    STATE_FILE,
    BrokerSet,
    EmbeddedBridge,
    EmbeddedBroker,
    MosquittoBroker,
    ProcessRecord,
    _stop_record,
    find_mosquitto,
    free_port,
    port_open,
    process_alive,
    render_mosquitto,
    render_variant,
)
from sim.live.credentials import (
    DEV_USERS,
    check_password_line,
    make_dev_certificates,
    password_line,
)
from sim.live.embedded import amqtt_available
from sim.live.mqtt import BrokerURL, ConnectError, connect, disconnect, make_client, subscribe

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "brokers"

needs_mosquitto = pytest.mark.skipif(
    find_mosquitto() is None, reason="mosquitto is not installed (.ci/run installs it with apt-get)"
)
needs_amqtt = pytest.mark.skipif(
    not amqtt_available(), reason="amqtt is not installed (pip install -e '.[test]' installs it)"
)
KINDS = [
    pytest.param("mosquitto", marks=needs_mosquitto),
    pytest.param("embedded", marks=needs_amqtt),
]


# ------------------------------------------------------------------------------------- helpers


class Inbox:
    """A subscribed client that keeps what arrives, to wait for it."""

    def __init__(self, url: BrokerURL, topic: str = "#", qos: int = 1) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.arrived = threading.Condition()
        self.client = make_client(url)
        self.client.on_message = self._on_message
        connect(self.client, url)
        subscribe(self.client, topic, qos)

    def _on_message(self, client, userdata, message) -> None:
        with self.arrived:
            self.messages.append((message.topic, message.payload))
            self.arrived.notify_all()

    def wait_for(self, payload: bytes, timeout: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(
                lambda: any(p == payload for _, p in self.messages), timeout
            )

    def payloads(self) -> list[bytes]:
        with self.arrived:
            return [p for _, p in self.messages]

    def close(self) -> None:
        disconnect(self.client)


@contextlib.contextmanager
def inbox(url: BrokerURL, topic: str = "#") -> Iterator[Inbox]:
    box = Inbox(url, topic)
    try:
        yield box
    finally:
        box.close()


@contextlib.contextmanager
def publisher(url: BrokerURL):
    client = make_client(url)
    connect(client, url)
    try:
        yield client
    finally:
        disconnect(client)


def publish(client, topic: str, payload: bytes, qos: int = 1) -> None:
    client.publish(topic, payload, qos=qos).wait_for_publish(5)


def plain(port: int) -> BrokerURL:
    return BrokerURL("127.0.0.1", port)


def publish_until_arrives(url: BrokerURL, box: Inbox, topic: str, timeout: float = 8.0) -> None:
    """Publish to ``topic`` on ``url`` until a copy reaches ``box``: a bridge may still be
    connecting when the brokers accept clients."""
    deadline = time.monotonic() + timeout
    with publisher(url) as client:
        attempt = 0
        while time.monotonic() < deadline:
            payload = f"probe-{attempt}".encode()
            publish(client, topic, payload)
            if box.wait_for(payload, timeout=0.5):
                return
            attempt += 1
    pytest.fail(f"nothing published to {topic} on {url} arrived within {timeout:g} s")


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(params=KINDS)
def bridged(request, tmp_path: Path) -> Iterator[tuple[BrokerURL, BrokerURL]]:
    """The edge and central brokers on free ports with the edge -> central bridge: the shipped
    Mosquitto files rendered to those ports, or two embedded brokers and the Python bridge."""
    edge_port, central_port = free_port(), free_port()
    with contextlib.ExitStack() as stack:
        if request.param == "mosquitto":
            rendered = render_variant(tmp_path, edge_port=edge_port, central_port=central_port)
            stack.enter_context(MosquittoBroker(rendered.central, central_port))
            stack.enter_context(MosquittoBroker(rendered.edge, edge_port))
        else:
            stack.enter_context(EmbeddedBroker(central_port, log=tmp_path / "central.log"))
            stack.enter_context(EmbeddedBroker(edge_port, log=tmp_path / "edge.log"))
            stack.enter_context(
                EmbeddedBridge(
                    f"mqtt://127.0.0.1:{edge_port}",
                    f"mqtt://127.0.0.1:{central_port}",
                    log=tmp_path / "bridge.log",
                )
            )
        yield plain(edge_port), plain(central_port)


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> Iterator[dict]:
    """The secured Mosquitto variant on free ports, with development certificates and users."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (.ci/run installs it with apt-get)")
    out = tmp_path_factory.mktemp("secure")
    edge_port, central_port = free_port(), free_port()
    rendered = render_variant(out, edge_port=edge_port, central_port=central_port, secure=True)
    with (
        MosquittoBroker(rendered.central, central_port, tls=True),
        MosquittoBroker(rendered.edge, edge_port, tls=True),
    ):
        yield {
            "rendered": rendered,
            "edge": BrokerURL("127.0.0.1", edge_port, tls=True, ca_file=str(rendered.ca_file)),
            "central": BrokerURL(
                "127.0.0.1", central_port, tls=True, ca_file=str(rendered.ca_file)
            ),
        }


def as_user(url: BrokerURL, user: str | None, password: str | None = None) -> BrokerURL:
    return BrokerURL(url.host, url.port, url.tls, user, password, url.ca_file)


# ------------------------------------------------------------------------- plain and embedded


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_subscribe_round_trip(bridged, qos: int) -> None:
    """A message published on a broker reaches a subscriber of the same broker, at every QoS."""
    edge, central = bridged
    for url in (edge, central):
        with inbox(url, "lab/#") as box, publisher(url) as client:
            payload = f"round trip at QoS {qos} via {url.port}".encode()
            publish(client, "lab/round-trip", payload, qos)
            assert box.wait_for(payload)


def test_edge_bridges_plant_topics_to_central_and_nothing_else(bridged) -> None:
    """plant/# published on the edge arrives on the central broker with its topic; a topic
    outside plant/ published before a second plant/ message never does."""
    edge, central = bridged
    with inbox(central) as box:
        publish_until_arrives(edge, box, "plant/line3/robot/0/joints")
        with publisher(edge) as client:
            publish(client, "office/printer/status", b"not for central")
            publish(client, "plant/line3/cnc/1/spindle", b"after the office message")
        assert box.wait_for(b"after the office message")
        topics = {topic for topic, _ in box.messages}
        assert "plant/line3/cnc/1/spindle" in topics
        assert b"not for central" not in box.payloads()
        assert all(topic.startswith("plant/") for topic in topics)


def test_central_does_not_forward_back_to_the_edge(bridged) -> None:
    """The bridge is one way: plant/ messages published on the central broker stay there."""
    edge, central = bridged
    with inbox(edge, "plant/#") as edge_box, inbox(central, "plant/#") as central_box:
        publish_until_arrives(edge, central_box, "plant/warmup")  # the bridge is up
        with publisher(central) as client:
            publish(client, "plant/from-central", b"stays on central")
        assert central_box.wait_for(b"stays on central")
        with publisher(edge) as client:
            publish(client, "plant/marker", b"marker on edge")
        assert edge_box.wait_for(b"marker on edge")
        assert b"stays on central" not in edge_box.payloads()


# ------------------------------------------------------------------------------------- secured


def test_secured_broker_refuses_anonymous_clients(secured) -> None:
    """No user name, over a proper TLS connection: CONNACK 'not authorised'."""
    client = make_client(as_user(secured["edge"], None))
    with pytest.raises(ConnectError, match="refused the connection: Not authorized"):
        connect(client, as_user(secured["edge"], None))


def test_secured_broker_refuses_a_wrong_password(secured) -> None:
    url = as_user(secured["central"], "plant", "not-the-password")
    with pytest.raises(ConnectError, match="refused the connection: Not authorized"):
        connect(make_client(url), url)


def test_secured_broker_refuses_clients_that_do_not_check_its_ca(secured) -> None:
    """Without the development CA the client cannot verify the server certificate."""
    url = BrokerURL("127.0.0.1", secured["edge"].port, True, "plant", DEV_USERS["plant"])
    with pytest.raises(ConnectError, match="certificate verify failed"):
        connect(make_client(url), url)


def test_secured_broker_refuses_plain_tcp(secured) -> None:
    url = BrokerURL("127.0.0.1", secured["edge"].port, False, "plant", DEV_USERS["plant"])
    with pytest.raises(ConnectError):
        connect(make_client(url), url, timeout=1.0)


def test_secured_brokers_accept_the_right_users_and_bridge_over_tls(secured) -> None:
    """`plant` publishes on the edge over TLS; `app` reads it on the central broker, where the
    edge's bridge logged in as `bridge` over TLS."""
    edge = as_user(secured["edge"], "plant", DEV_USERS["plant"])
    central = as_user(secured["central"], "app", DEV_USERS["app"])
    with inbox(central, "plant/#") as box:
        publish_until_arrives(edge, box, "plant/line3/robot/0/joints")


def test_secured_acl_keeps_readers_from_publishing(secured) -> None:
    """`app` may only read plant/#: its publish is dropped, a later one by `plant` arrives."""
    reader = as_user(secured["edge"], "plant", DEV_USERS["plant"])
    with inbox(reader, "plant/#") as box:
        with publisher(as_user(secured["edge"], "app", DEV_USERS["app"])) as client:
            publish(client, "plant/forged", b"from app")
        with publisher(reader) as client:
            publish(client, "plant/real", b"from plant")
        assert box.wait_for(b"from plant")
        assert b"from app" not in box.payloads()


def _mutual_tls_attempt(port: int, ca: Path, cert: Path, key: Path) -> str:
    """Connect over TLS with a client certificate as user `plant`: ``"accepted"`` on CONNACK 0,
    else the TLS or MQTT failure as text."""
    import paho.mqtt.client as mqtt

    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"mtls-{port}-{cert.parent.name}"
    )
    client.username_pw_set("plant", DEV_USERS["plant"])
    client.tls_set_context(context)
    answered = threading.Event()
    codes: list[object] = []

    def on_connect(_c, _u, _f, reason_code, _p) -> None:
        codes.append(reason_code)
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port, keepalive=10)
        client.loop_start()
        answered.wait(5.0)
    except (ssl.SSLError, OSError) as error:
        return f"refused: {type(error).__name__}: {error}"
    finally:
        client.loop_stop()
        client.disconnect()
    if codes and not getattr(codes[0], "is_failure", True):
        return "accepted"
    return f"refused: {codes[0] if codes else 'no CONNACK'}"


def test_mutual_tls_refuses_a_client_certificate_from_an_untrusted_ca(tmp_path: Path) -> None:
    """The secured edge broker with ``require_certificate true`` (mutual TLS, as its comment
    says to switch on): the development client certificate, signed by the broker's CA, gets in;
    one signed by another CA, with the right user and password, is refused in the TLS handshake
    and never reaches MQTT."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (.ci/run installs it with apt-get)")
    port = free_port()
    rendered = render_variant(
        tmp_path / "cfg", edge_port=port, central_port=free_port(), secure=True
    )
    text = Path(rendered.edge).read_text(encoding="utf-8")
    assert "require_certificate false" in text
    text = text.replace("require_certificate false", "require_certificate true")
    config = tmp_path / "mtls.conf"
    # no central broker here: the bridge goes; the user to run as (when root) stays
    settings, bridge = text.split("# ---- bridge")
    kept = [line for line in bridge.splitlines() if line.startswith("user ")]
    config.write_text(settings + "\n".join(kept) + "\n", encoding="utf-8")
    own = Path(rendered.ca_file).parent
    other = make_dev_certificates(tmp_path / "other-ca")
    with MosquittoBroker(config, port, tls=True):
        trusted = _mutual_tls_attempt(
            port, rendered.ca_file, own / "client.crt", own / "client.key"
        )
        assert trusted == "accepted"
        forged = _mutual_tls_attempt(port, rendered.ca_file, other.client_cert, other.client_key)
        assert forged.startswith("refused"), forged


SECURED_PLANT = """
name: secured-plant
duration: 10s
networks:
  lan: {kind: parametric, latency: 5ms}
brokers:
  edge: {}
machines:
  press:
    count: 2
    network: lan
    broker: edge
    streams:
      force: {topic: "plant/secured/{id}/force", every: 20ms, payload: 100B, qos: 1}
"""


def test_live_and_bridge_work_against_the_secured_pair(secured, tmp_path: Path) -> None:
    """``factory5g live`` publishes to the secured edge broker over TLS as user `plant` and gets
    every message back; at the same time ``factory5g bridge`` carries them, over TLS and logged
    in as `app` (read only) on the edge and `plant` on the central broker, through the scenario's
    5 ms network: it forwards what it receives."""
    scenario = tmp_path / "plant.yaml"
    scenario.write_text(SECURED_PLANT, encoding="utf-8")
    ca = str(secured["rendered"].ca_file)
    edge, central = secured["edge"].port, secured["central"].port
    plant = f"plant:{DEV_USERS['plant']}"
    bridge = subprocess.Popen(
        [sys.executable, "-m", "sim", "bridge", "--from",
         f"mqtts://app:{DEV_USERS['app']}@127.0.0.1:{edge}", "--to",
         f"mqtts://{plant}@127.0.0.1:{central}", "--topics", "plant/secured/#",
         "--scenario", str(scenario), "--network", "lan", "--for", "6s", "--tls-ca", ca],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(1.5)  # the bridge connects and subscribes
        live = subprocess.run(
            [sys.executable, "-m", "sim", "live", str(scenario), "--broker",
             f"mqtts://{plant}@127.0.0.1:{edge}", "--tls-ca", ca, "--for", "2s", "--quiet"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        out, err = bridge.communicate(timeout=30)
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.communicate()
    assert live.returncode == 0, live.stderr
    sent, back = (
        int(n) for n in re.search(r"(\d+) sent, (\d+) received back", live.stdout).groups()
    )
    assert sent >= 150 and back == sent  # 2 presses x 50/s x 2 s, QoS 1, nothing lost
    assert bridge.returncode == 0, err
    received, forwarded = (
        int(n) for n in re.search(r"(\d+) received, (\d+) forwarded", out).groups()
    )
    assert received >= sent and forwarded == received


# ------------------------------------------------------------------------- files and templates


def test_password_lines_are_mosquitto_pbkdf2_sha512() -> None:
    """``user:$7$101$<12-byte salt>$<64-byte hash>``, the hash being PBKDF2-HMAC-SHA512."""
    line = password_line("plant", "secret", salt=b"0123456789ab")
    user, _, hashed = line.partition(":")
    _, hash_id, iterations, salt, digest = hashed.split("$")
    assert (user, hash_id, iterations) == ("plant", "7", "101")
    assert base64.b64decode(salt) == b"0123456789ab"
    assert len(base64.b64decode(digest)) == 64
    assert check_password_line(line, "plant", "secret")
    assert not check_password_line(line, "plant", "Secret")
    assert not check_password_line(line, "app", "secret")
    with pytest.raises(ValueError, match="user name"):
        password_line("a:b", "x")


@pytest.mark.skipif(
    shutil.which("mosquitto_passwd") is None,
    reason="mosquitto_passwd is not installed",
)
def test_password_check_reads_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    """Same format both ways: our check admits a line that mosquitto_passwd wrote (and the
    secured tests show Mosquitto admitting users from a file we wrote)."""
    file = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(file), "plant", "s3cret"], check=True, timeout=10
    )
    line = file.read_text().strip()
    assert line.startswith("plant:$7$101$")
    assert check_password_line(line, "plant", "s3cret")
    assert not check_password_line(line, "plant", "s3cret!")


def test_development_certificates(tmp_path: Path) -> None:
    """The server certificate is issued by the CA for localhost, 127.0.0.1 and ::1; the keys are
    readable by their owner only; Python's TLS accepts the chain for 127.0.0.1."""
    from cryptography import x509

    certs = make_dev_certificates(tmp_path / "certs")
    assert certs.complete()
    ca = x509.load_pem_x509_certificate(certs.ca.read_bytes())
    server = x509.load_pem_x509_certificate(certs.server_cert.read_bytes())
    client = x509.load_pem_x509_certificate(certs.client_cert.read_bytes())
    server.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost"}
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for key in (certs.ca_key, certs.server_key, certs.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600

    # A TLS handshake on loopback with these files, hostname checked against the IP SAN.
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certs.server_cert, certs.server_key)
    client_context = ssl.create_default_context(cafile=str(certs.ca))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with (
                contextlib.suppress(ssl.SSLError, OSError),
                server_context.wrap_socket(conn, server_side=True) as tls,
            ):
                tls.recv(1)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client_context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.sendall(b"x")
        thread.join(5)


@pytest.mark.parametrize("secure", [False, True])
def test_rendering_changes_only_ports_and_paths(tmp_path: Path, secure: bool) -> None:
    """The rendered files are the shipped ones line for line, except listener and address ports
    and file paths (absolute, and existing), plus a `user` line when run as root."""
    rendered = render_variant(tmp_path, edge_port=40001, central_port=40002, secure=secure)
    folder = SHIPPED / "secure" if secure else SHIPPED
    for name, path in (("edge", rendered.edge), ("central", rendered.central)):
        shipped = (folder / f"{name}.conf").read_text().splitlines()
        copy = path.read_text().splitlines()
        if os.geteuid() == 0:
            assert copy[-1].startswith("user ")
            copy = copy[: len(shipped)]
        assert len(copy) == len(shipped)
        changed = [(a, b) for a, b in zip(shipped, copy, strict=True) if a != b]
        assert changed, "the ports at least change"
        for before, after in changed:
            setting = before.split()[0]
            assert after.split()[0] == setting
            if setting in ("listener", "address"):
                continue
            value = after.split()[1]
            assert os.path.isabs(value) and os.path.exists(value), after
        listeners = [line for line in copy if line.startswith("listener ")]
        assert listeners == [f"listener {40001 if name == 'edge' else 40002} 127.0.0.1"]
    assert "address 127.0.0.1:40002" in rendered.edge.read_text()


def test_rendering_follows_path_overrides(tmp_path: Path) -> None:
    template = tmp_path / "t.conf"
    template.write_text(
        "listener 1883\ncafile brokers/secure/certs/ca.crt\nacl_file brokers/secure/acl\n"
        "password_file ./brokers/secure/passwd\n# cafile brokers/x stays a comment\n"
    )
    out = render_mosquitto(
        template,
        tmp_path / "out.conf",
        ports={1883: 5000},
        config_dir=tmp_path / "cfg",
        paths={"brokers/secure/certs": tmp_path / "c", "brokers/secure/passwd": tmp_path / "pw"},
    )
    lines = out.read_text().splitlines()
    assert lines[:5] == [
        "listener 5000",
        f"cafile {tmp_path / 'c' / 'ca.crt'}",
        f"acl_file {tmp_path / 'cfg' / 'secure' / 'acl'}",
        f"password_file {tmp_path / 'pw'}",
        "# cafile brokers/x stays a comment",
    ]


@needs_mosquitto
def test_shipped_files_work_as_they_are() -> None:
    """`mosquitto -c brokers/central.conf` and `brokers/edge.conf` from the repository's top
    folder, unchanged, on ports 1884 and 1883: the edge bridges plant/# to the central broker."""
    if port_open("127.0.0.1", 1883) or port_open("127.0.0.1", 1884):
        pytest.skip("ports 1883 or 1884 are in use on this machine")
    mosquitto = find_mosquitto()
    processes = []
    try:
        for name in ("central", "edge"):
            processes.append(
                subprocess.Popen(
                    [mosquitto, "-c", f"brokers/{name}.conf"],
                    cwd=REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 5
        while not (port_open("127.0.0.1", 1883) and port_open("127.0.0.1", 1884)):
            assert time.monotonic() < deadline, "the shipped brokers did not start"
            assert all(p.poll() is None for p in processes), "mosquitto refused a shipped file"
            time.sleep(0.05)
        with inbox(plain(1884), "plant/#") as box:
            publish_until_arrives(plain(1883), box, "plant/shipped")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(5)


# ----------------------------------------------------------------------- brokers up and down


def cli(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "FACTORY5G_BROKERS": str(SHIPPED)},
    )


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    """A state folder for `brokers up`; whatever it records is stopped at the end, whatever the
    test did."""
    state = tmp_path / "state"
    yield state
    try:
        recorded = BrokerSet.load(state)
    except Exception:
        recorded = None
    for record in reversed(recorded.processes if recorded else []):
        _stop_record(record, timeout=2)


@pytest.mark.parametrize("kind", KINDS)
def test_brokers_up_and_down(kind: str, tmp_path: Path, state_dir: Path) -> None:
    """`brokers up` on free ports starts two brokers that accept connections and are bridged,
    refuses to start twice, and `brokers down` stops every process it started."""
    edge_port, central_port = free_port(), free_port()
    options = ["--edge-port", str(edge_port), "--central-port", str(central_port)]
    options += ["--state-dir", str(state_dir)] + (["--embedded"] if kind == "embedded" else [])
    up = cli("brokers", "up", *options, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert f"mqtt://127.0.0.1:{edge_port}" in up.stdout
    assert f"mqtt://127.0.0.1:{central_port}" in up.stdout

    state = json.loads((state_dir / STATE_FILE).read_text())
    assert state["kind"] == kind
    records = [ProcessRecord(**record) for record in state["processes"]]
    names = [record.name for record in records]
    assert names == (["central", "edge"] if kind == "mosquitto" else ["central", "edge", "bridge"])
    assert all(process_alive(record) for record in records)
    assert port_open("127.0.0.1", edge_port) and port_open("127.0.0.1", central_port)
    with inbox(plain(central_port), "plant/#") as box:
        publish_until_arrives(plain(edge_port), box, "plant/up")

    again = cli("brokers", "up", *options, cwd=tmp_path)
    assert again.returncode == 1
    assert "already running" in again.stderr

    status = cli("brokers", "status", "--state-dir", str(state_dir), cwd=tmp_path)
    assert status.returncode == 0 and status.stdout.count("running") == len(records)

    down = cli("brokers", "down", "--state-dir", str(state_dir), cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert down.stdout.count("stopped") == len(records)
    assert not any(process_alive(record) for record in records)
    assert not port_open("127.0.0.1", edge_port) and not port_open("127.0.0.1", central_port)
    assert not (state_dir / STATE_FILE).exists()
    assert cli("brokers", "down", "--state-dir", str(state_dir), cwd=tmp_path).returncode == 0


@pytest.mark.skipif(
    find_mosquitto() is None and not amqtt_available(), reason="no broker to start here"
)
def test_brokers_up_refuses_a_busy_port_and_leaves_nothing_running(
    tmp_path: Path, state_dir: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        up = cli(
            "brokers",
            "up",
            "--edge-port",
            str(port),
            "--central-port",
            str(free_port()),
            "--state-dir",
            str(state_dir),
            cwd=tmp_path,
        )
    assert up.returncode == 1
    assert f"port {port}" in up.stderr and "--edge-port" in up.stderr
    assert not (state_dir / STATE_FILE).exists()


@needs_mosquitto
def test_brokers_up_secure(tmp_path: Path, state_dir: Path) -> None:
    """`brokers up --secure` serves TLS with its own development CA and users."""
    edge_port, central_port = free_port(), free_port()
    up = cli(
        "brokers",
        "up",
        "--secure",
        "--edge-port",
        str(edge_port),
        "--central-port",
        str(central_port),
        "--state-dir",
        str(state_dir),
        cwd=tmp_path,
    )
    assert up.returncode == 0, up.stderr
    assert f"mqtts://127.0.0.1:{edge_port}" in up.stdout
    ca = state_dir / "certs" / "ca.crt"
    assert str(ca) in up.stdout
    edge = BrokerURL("127.0.0.1", edge_port, True, "plant", DEV_USERS["plant"], str(ca))
    central = BrokerURL("127.0.0.1", central_port, True, "app", DEV_USERS["app"], str(ca))
    with inbox(central, "plant/#") as box:
        publish_until_arrives(edge, box, "plant/secure-up")
    assert cli("brokers", "down", "--state-dir", str(state_dir), cwd=tmp_path).returncode == 0


# ---------------------------------------------------------------------- recorded processes


def test_a_recorded_process_is_alive_until_it_ends_and_not_when_its_id_is_reused() -> None:
    """``brokers status`` and ``down`` trust a record only for the very process it names: one
    that runs is alive; the same id with another start time (a reused id) is not; a process that
    has ended (a zombie not yet reaped included) is not; stopping it reports that it ran."""
    import psutil

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        created = psutil.Process(child.pid).create_time()
        record = ProcessRecord("edge", "test", child.pid, created, "log")
        assert process_alive(record)
        assert not process_alive(ProcessRecord("edge", "test", child.pid, created - 100, "log"))
        child.kill()
        time.sleep(0.2)  # ended, not yet waited for: a zombie
        assert psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE
        assert not process_alive(record)
    finally:
        child.kill()
        child.wait()
    assert not process_alive(record)
    assert _stop_record(record) is False

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    record = ProcessRecord("edge", "test", other.pid, psutil.Process(other.pid).create_time(), "l")
    assert _stop_record(record, timeout=5) is True
    other.wait(timeout=5)
    assert not process_alive(record)


def test_a_state_file_of_an_earlier_version_still_loads(tmp_path: Path) -> None:
    """Records written with the Linux-only ``start_ticks`` load, without a start time to compare."""
    (tmp_path / STATE_FILE).write_text(
        json.dumps(
            {
                "kind": "mosquitto",
                "secure": False,
                "started": "2026-11-30T10:00:00+00:00",
                "processes": [
                    {"name": "edge", "kind": "mosquitto", "pid": 1, "start_ticks": 5, "log": "x"}
                ],
            }
        )
    )
    (record,) = BrokerSet.load(tmp_path).processes
    assert (record.name, record.pid, record.created) == ("edge", 1, None)
