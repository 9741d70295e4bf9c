"""``factory5g audit`` (sim.live.audit): each weakness planted in a Mosquitto configuration is found,
with its severity and line, and nothing is found in the shipped secure variant; the plain
configurations are development only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ROOT, factory5g

from sim.live.audit import audit_file, standing
from sim.live.brokers import render_variant

TLS = "certfile {d}/server.crt\nkeyfile {d}/server.key\ncafile {d}/ca.crt\n"
LIMITS = "max_connections 500\nmax_packet_size 65536\n"


def _conf(tmp_path: Path, text: str, name: str = "broker.conf") -> Path:
    (tmp_path / "server.key").write_text("key", encoding="utf-8")
    (tmp_path / "server.key").chmod(0o600)
    path = tmp_path / name
    path.write_text(text.format(d=tmp_path) + LIMITS, encoding="utf-8")
    return path


def _found(path: Path) -> set[tuple[str, int | None, str]]:
    """(severity, line, the message's first words) of each finding but the info ones."""
    return {
        (f.severity, f.line, " ".join(f.message.split()[:3]))
        for f in audit_file(path)
        if f.severity != "info"
    }


def test_the_shipped_secure_variant_passes_and_the_plain_one_is_development_only() -> None:
    """``factory5g audit`` in the repository: the plain edge and central brokers let anonymous
    clients in on loopback only (development only, exit 0); the secure ones have no high or
    medium finding (the bridge's development password is a low one)."""
    done = factory5g("audit", "--format", "json", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    files = {Path(f["file"]).as_posix(): f for f in json.loads(done.stdout)}
    assert files["brokers/edge.conf"]["standing"] == "development only"
    assert files["brokers/central.conf"]["standing"] == "development only"
    for name in ("brokers/secure/edge.conf", "brokers/secure/central.conf"):
        assert files[name]["standing"] == "passes"
        assert {f["severity"] for f in files[name]["findings"]} <= {"low", "info"}


def test_the_rendered_secure_brokers_with_their_secrets_pass(tmp_path: Path) -> None:
    """Rendered as ``brokers up --secure`` starts them, with the development certificates and
    password file made: the key and password files are the owner's alone and nothing high or
    medium is found."""
    rendered = render_variant(tmp_path, edge_port=18883, central_port=18884, secure=True)
    for config in (rendered.edge, rendered.central):
        findings = audit_file(Path(config))
        assert standing(findings) == "passes", [str(f) for f in findings]
        assert not [f for f in findings if "does not exist" in f.message]


def test_an_open_listener_on_the_plant_network_is_high(tmp_path: Path) -> None:
    """Anonymous and plaintext on every interface: two high findings at their lines; exit 1."""
    path = _conf(tmp_path, "listener 1883\nallow_anonymous true\n")
    assert _found(path) == {
        ("high", 2, "anonymous clients may"),
        ("high", 1, "listener 1883 on"),
    }
    done = factory5g("audit", path)
    assert done.returncode == 1
    assert (
        f"{path}:2: high: anonymous clients may connect to listener 1883 on every interface"
        in done.stdout
    )
    assert f"{path}: fails (2 high" in done.stdout


def test_tls_older_than_1_2_and_an_unchecked_bridge_are_high(tmp_path: Path) -> None:
    path = _conf(
        tmp_path,
        "listener 8883 10.0.0.5\n" + TLS + "tls_version tlsv1.1\nallow_anonymous false\n"
        "password_file {d}/passwd\nacl_file {d}/acl\n"
        "connection up\naddress 10.0.0.9:8883\nbridge_tls_version tlsv1\nbridge_insecure true\n",
    )
    for name in ("passwd", "acl"):
        (tmp_path / name).write_text("user a\ntopic read plant/#\n", encoding="utf-8")
        (tmp_path / name).chmod(0o600)
    assert _found(path) == {
        ("high", 5, "listener 8883 on"),
        ("high", 11, "bridge up allows"),
        ("high", 12, "bridge up does"),
    }


@pytest.mark.parametrize(
    ("acl", "found"),
    [
        ("user plant\ntopic readwrite #\n", {("high", 2, "user plant may")}),
        ("user plant\ntopic #\n", {("high", 2, "user plant may")}),
        ("pattern write #\n", {("high", 1, "every client (a")}),
        ("topic write #\nuser app\ntopic read #\n", {("high", 1, "anonymous clients may")}),
        ("user app\ntopic read #\nuser plant\ntopic write plant/#\n", set()),
    ],
)
def test_write_access_to_every_topic_is_high(acl: str, found: set, tmp_path: Path) -> None:
    """Granting write (or readwrite, the default) on # to a user, a pattern or anonymous clients
    (the lines before the first ``user``) is found in the ACL file, at its line; reading # is not."""
    (tmp_path / "acl").write_text(acl, encoding="utf-8")
    (tmp_path / "passwd").write_text("", encoding="utf-8")
    (tmp_path / "passwd").chmod(0o600)
    path = _conf(
        tmp_path,
        "listener 8883\n" + TLS + "password_file {d}/passwd\nacl_file {d}/acl\n",
    )
    assert {(s, line, what) for s, line, what in _found(path)} == found


@pytest.mark.parametrize(
    ("mode", "found"),
    [
        (0o644, {("high", 5, "password_file")}),
        (0o640, {("medium", 5, "password_file")}),
        (0o600, set()),
    ],
)
def test_a_password_file_others_can_read_is_found(mode: int, found: set, tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("plant:$7$...\n", encoding="utf-8")
    (tmp_path / "passwd").chmod(mode)
    (tmp_path / "acl").write_text("user plant\ntopic write plant/#\n", encoding="utf-8")
    path = _conf(tmp_path, "listener 8883\n" + TLS + "password_file {d}/passwd\nacl_file {d}/acl\n")
    assert {(s, line, what.split()[0]) for s, line, what in _found(path)} == found


def test_passwords_without_an_acl_and_unlimited_queues_are_medium(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("", encoding="utf-8")
    (tmp_path / "passwd").chmod(0o600)
    path = _conf(
        tmp_path,
        "listener 8883\n" + TLS + "password_file {d}/passwd\nmax_queued_messages 0\n",
    )
    assert _found(path) == {
        ("medium", 5, "listener 8883 on"),
        ("medium", 6, "max_queued_messages 0: a"),
    }
    assert standing(audit_file(path)) == "needs attention"


def test_missing_limits_are_low(tmp_path: Path) -> None:
    path = tmp_path / "bare.conf"
    path.write_text("listener 1883 127.0.0.1\n", encoding="utf-8")
    assert _found(path) == {
        ("low", None, "no max_connections: a"),
        ("low", None, "no max_packet_size: a"),
    }
    assert standing(audit_file(path)) == "passes"


def test_a_file_it_cannot_read_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = factory5g("audit", tmp_path / "missing.conf")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "missing.conf: cannot read it" in line and "Traceback" not in done.stderr
