"""``factory5g audit``: what an attacker on the plant network would find open in a Mosquitto
configuration.

Each configuration file is read as Mosquitto 2.x reads it (mosquitto.conf(5)): ``listener PORT
[ADDRESS]`` opens a listener, and the TLS options after it (``certfile``, ``keyfile``, ``cafile``,
``tls_version``, ``psk_hint``) are that listener's; ``allow_anonymous``, ``password_file`` and
``acl_file`` are global unless ``per_listener_settings true`` makes them the listener's;
``connection NAME`` starts a bridge, whose ``bridge_*`` and ``remote_*`` options follow it. The
ACL file named is read too (mosquitto.conf(5), "acl_file": ``user``, ``topic [read|write|
readwrite|deny] TOPIC``, ``pattern ...``; lines before the first ``user`` apply to anonymous
clients).

Findings, each with its severity, file and line:

- **high**: a listener reachable beyond this host (an address other than loopback, or none:
  every interface) that is plaintext, or that lets anonymous clients in; write access to ``#``
  (every topic) for any user or pattern; a TLS version older than 1.2 (RFC 8996 deprecates 1.0
  and 1.1) on a listener or a bridge; a bridge that does not check the remote's certificate
  (``bridge_insecure true``); a password or private-key file that others can read.
- **medium**: anonymous access on a loopback listener (development only); passwords without an
  ACL (every user may read and write every topic); a group-readable password or key file; no
  queue limit (``max_queued_messages 0``).
- **low**: no ``max_connections`` (a connection storm takes every file descriptor); no
  ``max_packet_size`` or ``message_size_limit`` (a client may send 256 MB); a bridge password
  written in the file.
- **info**: plaintext on a loopback listener; a file named that does not exist (yet).

A file *passes* with no high or medium finding; one whose only listeners are on loopback and
whose findings are anonymous access or plaintext there is *development only*. ``audit`` exits 1 if
any file has a high finding, 0 otherwise, 2 for a file it cannot read.
"""

from __future__ import annotations

import ipaddress
import stat
from dataclasses import dataclass, field
from pathlib import Path

SEVERITIES = ("high", "medium", "low", "info")
OLD_TLS = {"tlsv1", "tlsv1.1"}
LISTENER_TLS = {"certfile", "keyfile", "cafile", "capath", "tls_version", "psk_hint"}
PER_LISTENER = {"allow_anonymous", "password_file", "acl_file", "psk_file"}


class AuditError(ValueError):
    """A configuration file that cannot be read: the message names it."""


@dataclass(frozen=True)
class Finding:
    """One weakness: how bad, where, and what to do."""

    severity: str
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"severity": self.severity, "file": self.file, "line": self.line,
                "message": self.message}  # fmt: skip


@dataclass
class _Listener:
    port: str
    address: str | None
    line: int
    settings: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def loopback(self) -> bool:
        if self.address is None:
            return False  # every interface
        if self.address == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            return False  # a host name or an interface: assume reachable

    @property
    def tls(self) -> bool:
        return ("certfile" in self.settings and "keyfile" in self.settings) or (
            "psk_hint" in self.settings
        )

    def where(self) -> str:
        return f"listener {self.port} on {self.address or 'every interface'}"


@dataclass
class _Config:
    path: Path
    settings: dict[str, tuple[str, int]] = field(default_factory=dict)
    listeners: list[_Listener] = field(default_factory=list)
    bridges: list[dict[str, tuple[str, int]]] = field(default_factory=list)


def _read(path: Path) -> _Config:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise AuditError(f"{path}: cannot read it ({reason})") from None
    config = _Config(path)
    per_listener = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip()
        if key == "per_listener_settings":
            per_listener = value == "true"
        if key == "listener":
            port, _, address = value.partition(" ")
            config.listeners.append(
                _Listener(port, address.split()[0] if address else None, number)
            )
        elif key == "port":  # the deprecated default listener, on every interface
            config.listeners.append(_Listener(value, None, number))
        elif key == "connection":
            config.bridges.append({"connection": (value, number)})
        elif config.bridges and (
            key.startswith(("bridge_", "remote_")) or key in {"address", "topic", "addresses"}
        ):
            config.bridges[-1][key] = (value, number)
        elif config.listeners and (key in LISTENER_TLS or (per_listener and key in PER_LISTENER)):
            config.listeners[-1].settings[key] = (value, number)
        else:
            config.settings[key] = (value, number)
    if not config.listeners:
        # Mosquitto 2 without a listener listens on 127.0.0.1:1883 only ("local only mode")
        config.listeners.append(_Listener("1883", "127.0.0.1", 0))
    return config


def _resolve(config: _Config, name: str) -> Path:
    path = Path(name)
    if path.is_absolute() or path.exists():
        return path
    # the shipped configurations name their files from the repository's top folder
    for base in (config.path.parent, *config.path.resolve().parents):
        candidate = base / path
        if candidate.exists():
            return candidate
    return path


def _secret_file(config: _Config, what: str, name: str, line: int) -> list[Finding]:
    path = _resolve(config, name)
    shown = str(config.path)
    if not path.exists():
        return [Finding("info", shown, line, f"{what} {name} does not exist (yet)")]
    mode = path.stat().st_mode
    if mode & stat.S_IROTH:
        return [Finding("high", shown, line,
                        f"{what} {name} is readable by every user of the host "
                        f"(mode {stat.filemode(mode)}): chmod 600 it")]  # fmt: skip
    if mode & stat.S_IRGRP:
        return [Finding("medium", shown, line,
                        f"{what} {name} is readable by its group (mode {stat.filemode(mode)})")]  # fmt: skip
    return []


def _acl(config: _Config, name: str, line: int) -> list[Finding]:
    path = _resolve(config, name)
    if not path.exists():
        return [Finding("info", str(config.path), line, f"acl_file {name} does not exist (yet)")]
    findings = []
    user = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user" and len(words) > 1:
            user = " ".join(words[1:])
        elif words[0] in ("topic", "pattern") and len(words) > 1:
            access = words[1] if len(words) > 2 else "readwrite"
            topic = words[-1]
            if topic == "#" and access in ("write", "readwrite"):
                who = (
                    "every client (a pattern)"
                    if words[0] == "pattern"
                    else f"user {user}"
                    if user
                    else "anonymous clients"
                )
                findings.append(Finding("high", str(path), number,
                                        f"{who} may write to # (every topic): grant the topics "
                                        "it publishes, not all of them"))  # fmt: skip
    return findings


def audit_file(path: Path) -> list[Finding]:
    """The findings of one Mosquitto configuration file (and the files it names)."""
    config = _read(path)
    shown = str(path)
    findings: list[Finding] = []
    per_listener = config.settings.get("per_listener_settings", ("false", 0))[0] == "true"
    for listener in config.listeners:
        scoped = {**config.settings, **listener.settings} if per_listener else {
            **config.settings, **{k: v for k, v in listener.settings.items() if k in LISTENER_TLS}}  # fmt: skip
        anonymous, anonymous_line = scoped.get("allow_anonymous", ("false", listener.line))
        reachable = not listener.loopback
        if anonymous == "true":
            if reachable:
                findings.append(Finding("high", shown, anonymous_line,
                                        f"anonymous clients may connect to {listener.where()}: "
                                        "anyone on the plant network may publish and subscribe"))  # fmt: skip
            else:
                findings.append(Finding("medium", shown, anonymous_line,
                                        f"anonymous clients may connect to {listener.where()} "
                                        "(loopback only: development only)"))  # fmt: skip
        if not listener.tls:
            if reachable:
                findings.append(Finding("high", shown, listener.line,
                                        f"{listener.where()} is plaintext: passwords and "
                                        "telemetry cross the network readable; give it certfile "
                                        "and keyfile"))  # fmt: skip
            else:
                findings.append(Finding("info", shown, listener.line,
                                        f"{listener.where()} is plaintext (loopback only)"))  # fmt: skip
        version = listener.settings.get("tls_version")
        if version and version[0] in OLD_TLS:
            findings.append(Finding("high", shown, version[1],
                                    f"{listener.where()} allows {version[0]} (RFC 8996 "
                                    "deprecates TLS 1.0 and 1.1): use tlsv1.2 or tlsv1.3"))  # fmt: skip
        keyfile = listener.settings.get("keyfile")
        if keyfile:
            findings += _secret_file(config, "keyfile", *keyfile)
        password = scoped.get("password_file")
        if password:
            findings += _secret_file(config, "password_file", *password)
            if "acl_file" not in scoped:
                findings.append(Finding("medium", shown, password[1],
                                        f"{listener.where()} checks passwords but has no "
                                        "acl_file: every user may read and write every topic"))  # fmt: skip
    acl = config.settings.get("acl_file")
    acls = [acl] if acl else []
    acls += [lst.settings["acl_file"] for lst in config.listeners if "acl_file" in lst.settings]
    for name, line in dict.fromkeys(acls):
        findings += _acl(config, name, line)
    for bridge in config.bridges:
        name, line = bridge["connection"]
        version = bridge.get("bridge_tls_version")
        if version and version[0] in OLD_TLS:
            findings.append(Finding("high", shown, version[1],
                                    f"bridge {name} allows {version[0]}: use tlsv1.2 or tlsv1.3"))  # fmt: skip
        insecure = bridge.get("bridge_insecure")
        if insecure and insecure[0] == "true":
            findings.append(Finding("high", shown, insecure[1],
                                    f"bridge {name} does not check the remote broker's "
                                    "certificate (bridge_insecure true): anyone can pose as it"))  # fmt: skip
        secret = bridge.get("remote_password")
        if secret:
            findings.append(Finding("low", shown, secret[1],
                                    f"bridge {name}'s password is written in this file: keep "
                                    "the file readable by the broker's user only"))  # fmt: skip
    queued = config.settings.get("max_queued_messages")
    if queued and queued[0] == "0":
        findings.append(Finding("medium", shown, queued[1],
                                "max_queued_messages 0: a slow or absent subscriber's queue "
                                "grows without limit"))  # fmt: skip
    if "max_connections" not in config.settings or config.settings["max_connections"][0] == "-1":
        line = config.settings.get("max_connections", ("", None))[1]
        findings.append(Finding("low", shown, line,
                                "no max_connections: a connection storm may take every file "
                                "descriptor of the broker"))  # fmt: skip
    if "max_packet_size" not in config.settings and "message_size_limit" not in config.settings:
        findings.append(Finding("low", shown, None,
                                "no max_packet_size: a client may send packets of up to 256 MB"))  # fmt: skip
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (order[f.severity], f.file, f.line or 0))


def standing(config_findings: list[Finding]) -> str:
    """``fails`` (a high finding), ``development only`` (loopback-only anonymous access or
    plaintext), ``needs attention`` (another medium finding), or ``passes``."""
    severities = {f.severity for f in config_findings}
    if "high" in severities:
        return "fails"
    mediums = [f for f in config_findings if f.severity == "medium"]
    if mediums and all("development only" in f.message for f in mediums):
        return "development only"
    return "needs attention" if mediums else "passes"


def shipped_configs(root: Path) -> list[Path]:
    """The configurations ``audit`` checks by default: ``brokers/*.conf`` and
    ``brokers/secure/*.conf``."""
    return sorted((root / "brokers").glob("*.conf")) + sorted(
        (root / "brokers" / "secure").glob("*.conf")
    )


def audit(paths: list[Path]) -> dict[Path, list[Finding]]:
    """Every file's findings; raises :class:`AuditError` for one that cannot be read."""
    return {path: audit_file(path) for path in paths}


__all__ = ["AuditError", "Finding", "audit", "audit_file", "shipped_configs", "standing"]
