"""Real MQTT brokers on this machine: the edge and central brokers of ``brokers/``, started and stopped.

The Mosquitto files in ``brokers/`` are the canonical configuration. They work as they are
(``mosquitto -c brokers/edge.conf`` from the repository's top folder, on ports 1883 and 1884, or
8883 and 8884 for the secured variant), and this module reads them as templates: it rewrites the
port numbers of ``listener`` and ``address`` lines and the paths of file settings (relative paths
that start with ``brokers/`` point into the configuration folder; the certificate folder and the
password file can be pointed elsewhere) and copies every other line unchanged.

Without Mosquitto the same layout runs on the embedded broker (amqtt) with a Python bridge process
(``sim.live.embedded``). Brokers started by ``factory5g brokers up`` outlive the command; a state
file (``.factory5g/brokers.json`` in the current folder unless ``FACTORY5G_STATE_DIR`` says
otherwise) records their process ids, ports and logs for ``brokers down`` and ``brokers status``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from sim.live import LiveError
from sim.live.credentials import (
    DEV_USERS,
    DevCertificates,
    make_dev_certificates,
    write_password_file,
)

STATE_FILE = "brokers.json"
LOCALHOST = "127.0.0.1"
BRIDGE_TOPICS = ("plant/#",)

# The ports written in the shipped files, per variant: (edge, central).
SHIPPED_PORTS = {False: (1883, 1884), True: (8883, 8884)}

# Mosquitto settings whose value is a file or folder, and where in the line the path is.
_PATH_SETTINGS = {
    "cafile",
    "capath",
    "certfile",
    "keyfile",
    "crlfile",
    "dhparamfile",
    "password_file",
    "acl_file",
    "psk_file",
    "bridge_cafile",
    "bridge_capath",
    "bridge_certfile",
    "bridge_keyfile",
    "persistence_location",
    "pid_file",
    "include_dir",
}

_MOSQUITTO_PLACES = (
    "/usr/sbin/mosquitto",
    "/usr/local/sbin/mosquitto",
    "/opt/homebrew/sbin/mosquitto",
)


class BrokersError(LiveError):
    """Brokers that could not be started, found or stopped; the message says why."""


# -------------------------------------------------------------------------------- finding things


def find_mosquitto() -> str | None:
    """The path of the ``mosquitto`` program, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((place for place in _MOSQUITTO_PLACES if os.access(place, os.X_OK)), None)


def find_config_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The ``brokers/`` folder: ``explicit``, else ``$FACTORY5G_BROKERS``, else ``./brokers``,
    else the one of the source checkout this package runs from."""
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(Path(explicit))
    elif os.environ.get("FACTORY5G_BROKERS"):
        candidates.append(Path(os.environ["FACTORY5G_BROKERS"]))
    else:
        candidates += [Path("brokers"), Path(__file__).resolve().parents[2] / "brokers"]
    for candidate in candidates:
        if (candidate / "edge.conf").is_file() and (candidate / "central.conf").is_file():
            return candidate.resolve()
    raise BrokersError(
        f"no broker configuration (edge.conf and central.conf) in {', '.join(map(str, candidates))}; "
        "run from the repository's top folder or pass --config-dir"
    )


def default_state_dir() -> Path:
    """Where ``brokers up`` keeps its state, rendered configurations and logs."""
    return Path(os.environ.get("FACTORY5G_STATE_DIR", ".factory5g"))


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------ templates


def render_mosquitto(
    template: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    ports: Mapping[int, int],
    config_dir: str | os.PathLike[str],
    paths: Mapping[str, str | os.PathLike[str]] | None = None,
) -> Path:
    """Write a copy of the Mosquitto file ``template`` to ``out`` with other ports and paths.

    ``ports`` maps a port number of the template to the one to use, in ``listener`` and bridge
    ``address`` lines. A relative path in a file setting is looked up in ``paths`` (longest
    matching prefix first, e.g. ``{"brokers/secure/certs": "/tmp/certs"}``); otherwise one that
    starts with ``brokers/`` is taken inside ``config_dir``, and any other relative to the current
    folder. Every other line is copied unchanged. Run as root, the copy keeps Mosquitto running as
    the current user (``user`` setting), so it can read files only that user may read.
    """
    template = Path(template)
    config_dir = Path(config_dir).resolve()
    prefixes = sorted((paths or {}).items(), key=lambda item: -len(item[0]))

    def path(value: str) -> str:
        if os.path.isabs(value):
            return value
        clean = value.removeprefix("./")
        for prefix, target in prefixes:
            if clean == prefix or clean.startswith(prefix.rstrip("/") + "/"):
                rest = clean[len(prefix.rstrip("/")) :].lstrip("/")
                return str((Path(target) / rest).resolve() if rest else Path(target).resolve())
        if clean.startswith("brokers/"):
            return str(config_dir / clean.removeprefix("brokers/"))
        return str(Path(clean).resolve())

    def port(text: str) -> str:
        return str(ports.get(int(text), int(text)))

    lines = []
    for line in template.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            lines.append(line)
            continue
        setting = words[0]
        if setting == "listener" and len(words) >= 2 and words[1].isdigit():
            words[1] = port(words[1])
            line = " ".join(words)
        elif setting == "address" and len(words) >= 2:
            line = "address " + " ".join(
                re.sub(r":(\d+)$", lambda m: ":" + port(m.group(1)), address)
                for address in words[1:]
            )
        elif setting in _PATH_SETTINGS and len(words) == 2:
            line = f"{setting} {path(words[1])}"
        elif setting == "log_dest" and len(words) == 3 and words[1] == "file":
            line = f"log_dest file {path(words[2])}"
        lines.append(line)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        lines += [
            "",
            "# Added by factory5g: run as root, Mosquitto would switch to the `mosquitto` user,",
            "# who cannot read the password file and keys written by this user.",
            f"user {getpass.getuser()}",
        ]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def read_setting(config: str | os.PathLike[str], name: str) -> str | None:
    """The last value a Mosquitto file gives ``name``, or None."""
    value = None
    for line in Path(config).read_text(encoding="utf-8").splitlines():
        words = line.split(None, 1)
        if len(words) == 2 and words[0] == name:
            value = words[1].strip()
    return value


@dataclass(frozen=True)
class Rendered:
    """The edge and central configuration files of one variant, ready for Mosquitto."""

    edge: Path
    central: Path
    edge_port: int
    central_port: int
    secure: bool
    ca_file: Path | None = None
    password_file: Path | None = None


def render_variant(
    out_dir: str | os.PathLike[str],
    *,
    edge_port: int,
    central_port: int,
    secure: bool = False,
    config_dir: str | os.PathLike[str] | None = None,
    certs_dir: str | os.PathLike[str] | None = None,
    password_file: str | os.PathLike[str] | None = None,
) -> Rendered:
    """Render ``edge.conf`` and ``central.conf`` (or ``secure/...``) into ``out_dir``.

    For the secured variant the development certificates are made in ``certs_dir`` (default
    ``out_dir/certs``) unless they are all there, and a password file with the development users
    is written to ``password_file`` (default ``out_dir/passwd``).
    """
    out_dir = Path(out_dir)
    config_dir = find_config_dir(config_dir)
    source = config_dir / "secure" if secure else config_dir
    shipped_edge, shipped_central = SHIPPED_PORTS[secure]
    ports = {shipped_edge: edge_port, shipped_central: central_port}
    paths: dict[str, Path] = {}
    ca_file = pw_file = None
    if secure:
        certs = DevCertificates(Path(certs_dir) if certs_dir else out_dir / "certs")
        if not certs.complete():
            make_dev_certificates(certs.directory)
        pw_file = write_password_file(
            Path(password_file) if password_file else out_dir / "passwd", DEV_USERS
        )
        paths = {"brokers/secure/certs": certs.directory, "brokers/secure/passwd": pw_file}
        ca_file = certs.ca
    edge = render_mosquitto(
        source / "edge.conf", out_dir / "edge.conf", ports=ports, config_dir=config_dir, paths=paths
    )
    central = render_mosquitto(
        source / "central.conf",
        out_dir / "central.conf",
        ports=ports,
        config_dir=config_dir,
        paths=paths,
    )
    return Rendered(edge, central, edge_port, central_port, secure, ca_file, pw_file)


# ------------------------------------------------------------------------------------ processes


class ManagedProcess:
    """A broker or bridge in a process of its own, logging to a file.

    ``with`` starts it and waits until it serves, and stops it on the way out, whatever happens.
    """

    kind = "process"

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log: str | os.PathLike[str],
        host: str = LOCALHOST,
        port: int | None = None,
        ready_text: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log = Path(log)
        self.host = host
        self.port = port
        self.ready_text = ready_text
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BrokersError("not started")
        return self.process.pid

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, *, detach: bool = False) -> ManagedProcess:
        """Start the process (in a session of its own when ``detach``, to outlive the caller)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=detach,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until it has logged ``ready_text``, or else accepts connections; stop it and raise
        BrokersError with the end of its log if it exits or does not get there in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokersError(
                    f"{self.describe()} exited with status {self.process.returncode}:\n"
                    f"{self.log_tail()}"
                )
            # A process that says when it serves is not poked (amqtt logs every empty connection).
            if self.ready_text is not None:
                if self.ready_text in self.log_text():
                    return
            elif self.port is None or port_open(self.host, self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise BrokersError(
            f"{self.describe()} was not ready after {timeout:g} s:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; waits for the process to end."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(empty log)"

    def describe(self) -> str:
        where = f" on {self.host}:{self.port}" if self.port is not None else ""
        return f"{self.kind}{where} (log {self.log})"

    def __enter__(self) -> ManagedProcess:
        if self.process is None:
            self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class MosquittoBroker(ManagedProcess):
    """Mosquitto running one configuration file; ``port`` is the one it listens on."""

    kind = "mosquitto"

    def __init__(
        self,
        config: str | os.PathLike[str],
        port: int,
        *,
        log: str | os.PathLike[str] | None = None,
        host: str = LOCALHOST,
        tls: bool = False,
        executable: str | None = None,
    ) -> None:
        executable = executable or find_mosquitto()
        if executable is None:
            raise BrokersError("mosquitto is not installed (apt-get install mosquitto)")
        config = Path(config)
        super().__init__(
            [executable, "-c", str(config)],
            log=log if log is not None else config.with_suffix(".log"),
            host=host,
            port=port,
        )
        self.config = config
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class EmbeddedBroker(ManagedProcess):
    """amqtt's broker (``python -m sim.live.embedded broker``) on one anonymous TCP port."""

    kind = "embedded"

    def __init__(self, port: int, *, log: str | os.PathLike[str], host: str = LOCALHOST) -> None:
        super().__init__(
            [
                sys.executable,
                "-m",
                "sim.live.embedded",
                "broker",
                "--host",
                host,
                "--port",
                str(port),
            ],
            log=log,
            host=host,
            port=port,
            ready_text="ready",
        )


class EmbeddedBridge(ManagedProcess):
    """The Python bridge (``python -m sim.live.embedded bridge``): forwards ``topics`` one way."""

    kind = "bridge"

    def __init__(
        self,
        source: str,
        target: str,
        *,
        log: str | os.PathLike[str],
        topics: Sequence[str] = BRIDGE_TOPICS,
        qos: int = 1,
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "sim.live.embedded",
            "bridge",
            "--from",
            source,
            "--to",
            target,
        ]
        for topic in topics:
            argv += ["--topic", topic]
        super().__init__([*argv, "--qos", str(qos)], log=log, ready_text="ready")
        self.source, self.target = source, target


# ------------------------------------------------------------------------- up, down and status


@dataclass
class ProcessRecord:
    """One process of a running set, as the state file keeps it."""

    name: str
    kind: str
    pid: int
    created: float | None  # the process's start (psutil's create_time), to tell it from a later one
    log: str
    url: str | None = None
    port: int | None = None
    config: str | None = None


@dataclass
class BrokerSet:
    """The brokers ``brokers up`` started, as recorded in the state file."""

    kind: str
    secure: bool
    started: str
    processes: list[ProcessRecord] = field(default_factory=list)
    ca_file: str | None = None

    def url(self, name: str) -> str | None:
        return next((p.url for p in self.processes if p.name == name), None)

    def save(self, state_dir: Path) -> Path:
        path = state_dir / STATE_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, state_dir: Path) -> BrokerSet | None:
        path = state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            processes = [_record(record) for record in data.pop("processes")]
            return cls(**data, processes=processes)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError) as error:
            raise BrokersError(f"unreadable state file {path}: {error}") from None


def _record(written: dict[str, Any]) -> ProcessRecord:
    written = dict(written)
    if "start_ticks" in written:  # a state file of an earlier version: no comparable start time
        written.pop("start_ticks")
        written["created"] = None
    return ProcessRecord(**written)


def _created(pid: int) -> float | None:
    """When the process started (seconds since the epoch), or None if it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _process(record: ProcessRecord) -> psutil.Process | None:
    """The recorded process if it still runs: not a zombie, and not another process that got the
    same id since (its start time must be the recorded one)."""
    try:
        process = psutil.Process(record.pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None
        if record.created is not None and abs(process.create_time() - record.created) > 0.01:
            return None
        return process
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:  # someone else's process: it runs, whoever it is
        return psutil.Process(record.pid) if psutil.pid_exists(record.pid) else None


def process_alive(record: ProcessRecord) -> bool:
    """Whether the recorded process still runs (not a zombie, not another process with its id)."""
    return _process(record) is not None


def _stop_record(record: ProcessRecord, timeout: float = 5.0) -> bool:
    """Ask the recorded process to stop (SIGTERM; on Windows TerminateProcess), kill it after
    ``timeout``; whether it was running."""
    process = _process(record)
    if process is None:
        return False
    try:
        process.terminate()
        try:
            process.wait(timeout)
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        raise BrokersError(
            f"cannot stop {record.name} (pid {record.pid}): it belongs to another user"
        ) from None
    return True


def _prepare_state_dir(state_dir: Path) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# made by factory5g brokers up: nothing here is to be committed\n*\n")


def brokers_up(
    *,
    state_dir: str | os.PathLike[str] | None = None,
    secure: bool = False,
    embedded: bool = False,
    edge_port: int | None = None,
    central_port: int | None = None,
    config_dir: str | os.PathLike[str] | None = None,
    certs_dir: str | os.PathLike[str] | None = None,
    timeout: float = 10.0,
) -> BrokerSet:
    """Start the central broker, the edge broker and the edge -> central bridge in the background.

    Mosquitto runs the rendered ``brokers/`` files (its bridge is in edge.conf); with
    ``embedded`` or without Mosquitto, two amqtt brokers and a Python bridge process run instead.
    Returns what was started, also saved in ``state_dir/brokers.json``. Raises BrokersError, with
    nothing left running, when something is in the way or does not come up.
    """
    state = Path(state_dir) if state_dir is not None else default_state_dir()
    existing = BrokerSet.load(state)
    if existing is not None:
        if any(process_alive(p) for p in existing.processes):
            urls = ", ".join(f"{p.name} {p.url}" for p in existing.processes if p.url)
            raise BrokersError(
                f"brokers already running ({urls}); stop them with `factory5g brokers down`"
            )
        (state / STATE_FILE).unlink()
    mosquitto = None if embedded else find_mosquitto()
    kind = "mosquitto" if mosquitto else "embedded"
    if kind == "embedded":
        from sim.live.embedded import AMQTT_MISSING, amqtt_available

        if secure:
            raise BrokersError(
                "the secured variant (TLS, passwords, ACLs) needs Mosquitto"
                + (": it is not installed" if not embedded else "; drop --embedded")
            )
        if not amqtt_available():
            raise BrokersError("mosquitto is not installed, and " + AMQTT_MISSING)
    shipped_edge, shipped_central = SHIPPED_PORTS[secure]
    edge_port = edge_port or shipped_edge
    central_port = central_port or shipped_central
    if edge_port == central_port:
        raise BrokersError(
            f"the edge and central brokers need different ports, not {edge_port} twice"
        )
    for name, port in (("edge", edge_port), ("central", central_port)):
        if port_open(LOCALHOST, port):
            raise BrokersError(
                f"port {port} on {LOCALHOST} is already in use; pick another with --{name}-port"
            )
    _prepare_state_dir(state)

    scheme = "mqtts" if secure else "mqtt"
    started: list[tuple[str, ManagedProcess, str | None]] = []
    ca_file = None
    try:
        if kind == "mosquitto":
            rendered = render_variant(
                state,
                edge_port=edge_port,
                central_port=central_port,
                secure=secure,
                config_dir=config_dir,
                certs_dir=certs_dir,
            )
            ca_file = str(rendered.ca_file) if rendered.ca_file else None
            plan: list[tuple[str, ManagedProcess, str | None]] = [
                (
                    "central",
                    MosquittoBroker(
                        rendered.central, central_port, log=state / "central.log", tls=secure
                    ),
                    str(rendered.central),
                ),
                (
                    "edge",
                    MosquittoBroker(rendered.edge, edge_port, log=state / "edge.log", tls=secure),
                    str(rendered.edge),
                ),
            ]
        else:
            central_url = f"mqtt://{LOCALHOST}:{central_port}"
            edge_url = f"mqtt://{LOCALHOST}:{edge_port}"
            plan = [
                ("central", EmbeddedBroker(central_port, log=state / "central.log"), None),
                ("edge", EmbeddedBroker(edge_port, log=state / "edge.log"), None),
                ("bridge", EmbeddedBridge(edge_url, central_url, log=state / "bridge.log"), None),
            ]
        for name, process, config in plan:
            process.log.unlink(missing_ok=True)
            process.start(detach=True)
            started.append((name, process, config))
            process.wait_ready(timeout)
    except BaseException:
        for _, process, _ in reversed(started):
            process.stop()
        raise

    records = [
        ProcessRecord(
            name=name,
            kind=process.kind,
            pid=process.pid,
            created=_created(process.pid),
            log=str(process.log.resolve()),
            url=f"{scheme}://{LOCALHOST}:{process.port}" if process.port else None,
            port=process.port,
            config=config,
        )
        for name, process, config in started
    ]
    result = BrokerSet(
        kind=kind,
        secure=secure,
        started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        processes=records,
        ca_file=ca_file,
    )
    result.save(state)
    return result


def wait_for_bridge(broker_set: BrokerSet, timeout: float = 5.0) -> bool:
    """Whether the edge's bridge is connected to the central broker within ``timeout`` seconds
    (Mosquitto: the central log's "New bridge connected"; embedded: the bridge is ready)."""
    if broker_set.kind != "mosquitto":
        return True  # the embedded bridge process was ready before brokers_up returned
    central = next(p for p in broker_set.processes if p.name == "central")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "New bridge connected" in Path(central.log).read_text(errors="replace"):
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def brokers_down(state_dir: str | os.PathLike[str] | None = None) -> list[ProcessRecord]:
    """Stop what ``brokers up`` started (bridge first, central last) and remove the state file;
    returns the processes that were still running. Nothing recorded: nothing to do."""
    state = Path(state_dir) if state_dir is not None else default_state_dir()
    broker_set = BrokerSet.load(state)
    if broker_set is None:
        return []
    stopped = [record for record in reversed(broker_set.processes) if _stop_record(record)]
    (state / STATE_FILE).unlink(missing_ok=True)
    return stopped


def brokers_status(
    state_dir: str | os.PathLike[str] | None = None,
) -> tuple[BrokerSet | None, dict[str, bool]]:
    """The recorded set and, per process name, whether it still runs."""
    state = Path(state_dir) if state_dir is not None else default_state_dir()
    broker_set = BrokerSet.load(state)
    if broker_set is None:
        return None, {}
    return broker_set, {record.name: process_alive(record) for record in broker_set.processes}


def recorded_config(
    host: str, port: int, state_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """The Mosquitto file of a broker ``brokers up`` started on host:port, if any."""
    if host not in (LOCALHOST, "localhost"):
        return None
    try:
        broker_set, alive = brokers_status(state_dir)
    except BrokersError:
        return None
    if broker_set is None:
        return None
    for record in broker_set.processes:
        if record.port == port and record.config and alive.get(record.name):
            return Path(record.config)
    return None
