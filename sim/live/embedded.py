"""The embedded broker and bridge: MQTT on a machine that has pip and nothing else.

Run as a process, not imported into the caller's (a broker in its own interpreter keeps its event
loop and the caller's threads apart, and stops cleanly on SIGTERM)::

    python -m sim.live.embedded broker --port 1883
    python -m sim.live.embedded bridge --from mqtt://127.0.0.1:1883 --to mqtt://127.0.0.1:1884 \\
        --topic 'plant/#' --qos 1

``broker`` runs amqtt's MQTT 3.1.1 broker (the ``embedded`` extra installs it) on one plain TCP
listener with anonymous access. amqtt does not bridge, so ``bridge`` is a small paho-mqtt client
of both brokers doing what Mosquitto's ``topic plant/# out 1`` bridge line does: it subscribes to
the filters on the first broker and publishes every message, same topic, payload and retain flag,
to the second at the given QoS. It keeps a persistent session on the first broker, so messages
published while it reconnects are not lost at QoS 1; it forwards one way only, so no loop forms.
Both print ``ready`` on stdout once they serve, and exit 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading

from sim.live.mqtt import no_delay

AMQTT_MISSING = (
    "the embedded broker needs the amqtt package: pip install 'factory5g[embedded]' "
    "(or pip install amqtt)"
)


def amqtt_available() -> bool:
    """Whether the embedded broker can run here."""
    try:
        import amqtt.broker  # noqa: F401
    except ImportError:
        return False
    return True


def broker_config(host: str, port: int) -> dict:
    """amqtt's configuration for one anonymous TCP listener, with no $SYS or packet logging."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def _serve_broker(host: str, port: int) -> None:
    from amqtt.broker import Broker

    broker = Broker(broker_config(host, port))
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"ready: amqtt broker on {host}:{port}", flush=True)
    await stop.wait()
    await broker.shutdown()


def run_broker(host: str, port: int) -> int:
    """Serve until SIGTERM / SIGINT."""
    if not amqtt_available():
        print(AMQTT_MISSING, file=sys.stderr)
        return 1
    # amqtt logs every connection at INFO; warnings and errors are enough for a test bed.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.ERROR)
    asyncio.run(_serve_broker(host, port))
    return 0


class Bridge:
    """Forwards messages matching ``topics`` from one broker to another, one way."""

    def __init__(
        self, source: str, target: str, topics: list[str], qos: int = 1, name: str = "bridge"
    ) -> None:
        from sim.live.mqtt import make_client, parse_broker_url

        self.source_url = parse_broker_url(source)
        self.target_url = parse_broker_url(target)
        self.topics = topics
        self.qos = qos
        self.forwarded = 0
        self.connected = threading.Event()  # subscribed on the source
        self.target_connected = threading.Event()
        # A persistent session on the source: QoS 1 messages wait there while we reconnect.
        self.source = make_client(
            self.source_url, f"factory5g-{name}-in", clean_session=False, max_inflight=100
        )
        self.target = make_client(self.target_url, f"factory5g-{name}-out", max_inflight=100)
        self.source.on_connect = self._on_source_connect
        self.source.on_message = self._on_message
        self.target.on_connect = self._on_target_connect

    def _on_source_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            return
        no_delay(client)
        client.subscribe([(topic, self.qos) for topic in self.topics])
        self.connected.set()

    def _on_target_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            no_delay(client)
            self.target_connected.set()

    def ready(self, timeout: float) -> bool:
        """Wait until connected to both brokers."""
        return self.connected.wait(timeout) and self.target_connected.wait(timeout)

    def _on_message(self, client, userdata, message) -> None:
        self.target.publish(message.topic, message.payload, qos=self.qos, retain=message.retain)
        self.forwarded += 1

    def start(self) -> None:
        """Connect to both brokers (paho reconnects by itself when either goes away)."""
        self.target.connect_async(self.target_url.host, self.target_url.port, keepalive=10)
        self.target.loop_start()
        self.source.connect_async(self.source_url.host, self.source_url.port, keepalive=10)
        self.source.loop_start()

    def stop(self) -> None:
        for client in (self.source, self.target):
            client.disconnect()
            client.loop_stop()


def run_bridge(source: str, target: str, topics: list[str], qos: int) -> int:
    """Bridge until SIGTERM / SIGINT."""
    bridge = Bridge(source, target, topics, qos)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    bridge.start()
    while not stop.is_set() and not bridge.ready(0.1):
        pass
    if not stop.is_set():
        print(f"ready: bridging {' '.join(topics)} from {source} to {target}", flush=True)
    stop.wait()
    bridge.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.live.embedded", description=__doc__)
    modes = parser.add_subparsers(dest="mode", required=True)
    broker = modes.add_parser("broker", help="run amqtt's broker on one TCP port")
    broker.add_argument("--host", default="127.0.0.1")
    broker.add_argument("--port", type=int, required=True)
    bridge = modes.add_parser("bridge", help="forward topics from one broker to another")
    bridge.add_argument("--from", dest="source", required=True, metavar="URL")
    bridge.add_argument("--to", dest="target", required=True, metavar="URL")
    bridge.add_argument("--topic", dest="topics", action="append", required=True, metavar="FILTER")
    bridge.add_argument("--qos", type=int, choices=(0, 1, 2), default=1)
    args = parser.parse_args(argv)
    if args.mode == "broker":
        return run_broker(args.host, args.port)
    return run_bridge(args.source, args.target, args.topics, args.qos)


if __name__ == "__main__":
    sys.exit(main())
