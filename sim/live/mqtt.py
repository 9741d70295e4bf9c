"""Broker addresses and paho-mqtt clients for the live commands.

A broker is named by a URL: ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...`` for TLS
(ports 1883 and 8883 by default). Credentials may also come from options; a password file holds
the password on its first line, so that it stays out of the shell history and of ``ps``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from sim.live import LiveError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerURLError(LiveError, ValueError):
    """A broker URL that cannot be used; the message says why."""


class ConnectError(LiveError):
    """A broker that could not be reached or refused the connection."""


@dataclass(frozen=True)
class BrokerURL:
    """Where a broker is and how to log in to it."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @property
    def scheme(self) -> str:
        return "mqtts" if self.tls else "mqtt"

    def __str__(self) -> str:
        """The URL without the password."""
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}"

    def with_credentials(
        self,
        username: str | None = None,
        password: str | None = None,
        password_file: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> BrokerURL:
        """This URL with credentials from options; options win over the URL's own."""
        if password_file is not None:
            try:
                lines = Path(password_file).read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise BrokerURLError(
                    f"cannot read the password file {password_file}: {error.strerror or error}"
                ) from None
            password = lines[0] if lines else ""
        if (cert_file is None) != (key_file is None):
            raise BrokerURLError("a client certificate needs both --tls-cert and --tls-key")
        for what, path in (("CA", ca_file), ("certificate", cert_file), ("key", key_file)):
            if path is not None and not Path(path).is_file():
                raise BrokerURLError(f"the TLS {what} file {path} does not exist")
        return replace(
            self,
            username=username if username is not None else self.username,
            password=password if password is not None else self.password,
            ca_file=ca_file if ca_file is not None else self.ca_file,
            cert_file=cert_file if cert_file is not None else self.cert_file,
            key_file=key_file if key_file is not None else self.key_file,
        )


def parse_broker_url(text: str) -> BrokerURL:
    """Read ``mqtt://[user[:password]@]host[:port]`` (or ``mqtts://``); a bare ``host[:port]``
    means ``mqtt://``."""
    if "://" not in text:
        text = "mqtt://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise BrokerURLError(f"not a broker URL: {text!r} ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BrokerURLError(
            f"unsupported scheme {parts.scheme!r} in {text!r}; use mqtt:// or mqtts://"
        )
    if not parts.hostname:
        raise BrokerURLError(f"no host in {text!r}; expected mqtt://HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BrokerURLError(f"a broker URL has no path, query or fragment: {text!r}")
    return BrokerURL(
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        tls=scheme == "mqtts",
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def make_client(
    url: BrokerURL,
    client_id: str | None = None,
    *,
    clean_session: bool = True,
    max_inflight: int = 20,
) -> mqtt.Client:
    """A paho-mqtt (callback API version 2) MQTT 3.1.1 client set up for ``url``, not connected."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"factory5g-{uuid.uuid4().hex[:12]}",
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
    )
    if url.username is not None:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=url.ca_file)
        if url.cert_file:
            context.load_cert_chain(url.cert_file, url.key_file)
        client.tls_set_context(context)
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)  # unbounded: the caller paces what it publishes
    return client


def no_delay(client: mqtt.Client) -> None:
    """Turn off Nagle's algorithm on the client's socket (paho leaves it on): otherwise a message
    published right after another waits for the broker's delayed ACK, up to 40 ms on Linux."""
    sock = client.socket()
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect(client: mqtt.Client, url: BrokerURL, *, timeout: float = 5.0) -> None:
    """Connect ``client`` to ``url`` and start its network thread; raise ConnectError unless the
    broker accepts within ``timeout`` seconds."""
    done = threading.Event()
    outcome: list[ReasonCode] = []
    previous = client.on_connect

    def on_connect(client_, userdata, flags, reason_code, properties):
        outcome.append(reason_code)
        done.set()
        if previous is not None:
            previous(client_, userdata, flags, reason_code, properties)

    client.on_connect = on_connect
    try:
        client.connect(url.host, url.port, keepalive=30)
    except (OSError, ssl.SSLError) as error:
        raise ConnectError(f"cannot connect to {url}: {error}") from None
    no_delay(client)
    client.loop_start()
    try:
        if not done.wait(timeout):
            hint = "" if url.tls else " (if it is a TLS listener, use mqtts://)"
            raise ConnectError(f"{url} did not answer within {timeout:g} s{hint}")
        if outcome[0].is_failure:
            raise ConnectError(f"{url} refused the connection: {outcome[0]}")
    except BaseException:
        client.loop_stop()
        client.on_connect = previous
        raise
    client.on_connect = previous


def subscribe(client: mqtt.Client, topic: str, qos: int, *, timeout: float = 5.0) -> None:
    """Subscribe and wait for the SUBACK; raise ConnectError if it does not come or is refused."""
    done = threading.Event()
    granted: list[ReasonCode] = []
    previous = client.on_subscribe

    def on_subscribe(client_, userdata, mid, reason_codes, properties):
        granted.extend(reason_codes)
        done.set()

    client.on_subscribe = on_subscribe
    try:
        result, _ = client.subscribe(topic, qos)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectError(f"cannot subscribe to {topic}: {mqtt.error_string(result)}")
        if not done.wait(timeout):
            raise ConnectError(f"no SUBACK for {topic} within {timeout:g} s")
        if any(code.is_failure for code in granted):
            raise ConnectError(f"the broker refused the subscription to {topic}")
    finally:
        client.on_subscribe = previous


def disconnect(client: mqtt.Client) -> None:
    """Disconnect cleanly and stop the network thread; never raises."""
    with contextlib.suppress(Exception):
        client.disconnect()
    with contextlib.suppress(Exception):
        client.loop_stop()
