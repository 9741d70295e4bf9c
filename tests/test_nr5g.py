"""The 5G NR cell model (sim.models.links.nr5g) against timelines and capacities derived by hand.

The timelines follow the slot arithmetic of the model's docstring: a DDDSU pattern at mu = 1 has
0.5 ms slots of 14 symbols; the special slot 10:2:2 has its two uplink symbols at symbols 12-13.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
import yaml
from helpers import FIXTURES, factory5g, plant, plant_scenario

from sim.engine import Plant, run_scenario
from sim.models.draws import Draws, component_rng
from sim.models.events import Arrival
from sim.models.links.nr5g import Grid, Nr5gLink, spectral_efficiency
from sim.models.message import Message, Packet
from sim.models.mqtt.routing import Route
from sim.scenario.loader import load_scenario
from sim.scenario.profiles import prbs_for
from sim.scenario.schema import Nr5gNetwork, Scenario

MS = 1e-3


def cell_config(**fields: object) -> Nr5gNetwork:
    return Nr5gNetwork.model_validate({"kind": "nr5g", **fields})


def one_packet(config: Nr5gNetwork, arrival: float, payload: float = 100.0) -> float:
    """Send one message into an otherwise idle cell at ``arrival``; when it reaches the broker."""
    env = simpy.Environment()
    link = Nr5gLink(env, "cell", config, lambda name: Draws(component_rng(1, 0, name)))
    delivered: list[float] = []
    send = link.connect("m[0]", "up", lambda packet, when: delivered.append(when), feeders=1)
    msg = Message(None, 0, "t", payload, 0, arrival, Route((), {}))
    Arrival(env, arrival, send, Packet(msg, ()))
    env.run(until=1.0)
    assert len(delivered) == 1
    return delivered[0]


NO_EQUIPMENT = {"equipment": {"up": "0s", "down": "0s"}}  # the radio alone
EXACT = {"bler": 0, "core_latency": "0.4ms", **NO_EQUIPMENT}


def test_grant_based_timeline_in_a_dddsu_cell() -> None:
    """Data at 0.1 ms: SR in the special slot's uplink symbols (received 2.0 ms), +0.5 ms gNB
    processing -> PDCCH in slot 5 (2.5 ms), k2 = 2 -> the first uplink opportunity from slot 7 is
    the special slot 8's two uplink symbols (4.0 ms + 12/28 ms to 4.5 ms), decoded 5.0 ms, through
    the core 5.4 ms. Without PUSCH in the special slot it is U slot 9 (4.5-5.0 ms): 5.9 ms."""
    config = cell_config(profile="sa-midband", uplink_access="grant_based", **EXACT)
    assert one_packet(config, 0.1 * MS) == pytest.approx(5.4 * MS, abs=1e-9)
    slots_only = cell_config(
        profile="sa-midband", uplink_access="grant_based", special_slot_data=False, **EXACT
    )
    assert one_packet(slots_only, 0.1 * MS) == pytest.approx(5.9 * MS, abs=1e-9)


def test_grant_based_data_after_the_sr_occasion_waits_a_whole_period() -> None:
    """Data at 2.1 ms misses slot 4's SR (it starts at 2.0 ms): the next SR ends at 4.5 ms (slot 8,
    special), grant in slot 10 (5.0 ms), k2 = 2 -> from slot 12 the first uplink is the special
    slot 13's uplink symbols (6.5 ms + 12/28 ms to 7.0 ms), delivered 7.9 ms."""
    config = cell_config(profile="sa-midband", uplink_access="grant_based", **EXACT)
    assert one_packet(config, 2.1 * MS) == pytest.approx(7.9 * MS, abs=1e-9)


def test_configured_grant_timeline_in_a_dddsu_cell() -> None:
    """Data at 0.1 ms, ready 0.35 ms: the configured-grant occasion in U slot 4 (2.0-2.5 ms),
    decoded 3.0 ms, delivered 3.4 ms: no request, no grant, 2.5 ms faster than grant based."""
    config = cell_config(
        profile="sa-midband", uplink_access="configured_grant", cg_period="2.5ms", **EXACT
    )
    assert one_packet(config, 0.1 * MS) == pytest.approx(3.4 * MS, abs=1e-9)


def test_configured_grant_occasions_follow_their_period() -> None:
    """With a 5 ms period UE 0's occasions are the first U slot of each period (2.0, 7.0, 12.0 ms,
    ...; configured grants use whole U slots, not the special slot's two symbols); data ready at
    2.45 ms skips the U slot at 4.5 ms (not its occasion) and goes at 7.0-7.5 ms: delivered 8.4 ms."""
    config = cell_config(
        profile="sa-midband", uplink_access="configured_grant", cg_period="5ms", **EXACT
    )
    assert one_packet(config, 2.2 * MS) == pytest.approx(8.4 * MS, abs=1e-9)


def test_ddsuu_pattern_gives_more_uplink_slots() -> None:
    """DDSUU with configured grant: U slots 3 and 4 (1.5 and 2.0 ms) are both occasions when the
    period is one slot; data ready at 1.6 ms goes at 2.0-2.5 ms, delivered 3.4 ms."""
    config = cell_config(
        profile="sa-midband",
        tdd_pattern="DDSUU",
        uplink_access="configured_grant",
        cg_period="0.5ms",
        **EXACT,
    )
    assert one_packet(config, 1.35 * MS) == pytest.approx(3.4 * MS, abs=1e-9)


def test_fdd_grant_based_timeline() -> None:
    """FDD at mu = 0 (1 ms slots, every slot both ways): data at 0.3 ms, SR in slot 1 received at
    2.0 ms, grant in slot 3 (3.0 ms, after 1 ms processing), k2 = 2 -> PUSCH in slot 5 (5-6 ms),
    decoded 7.0 ms, core 0.4 ms: 7.4 ms."""
    config = cell_config(
        profile="sa-midband",
        numerology=0,
        bandwidth="20MHz",
        tdd_pattern="FDD",
        uplink_access="grant_based",
        gnb_processing="1ms",
        ue_processing="0.5ms",
        **EXACT,
    )
    assert one_packet(config, 0.3 * MS) == pytest.approx(7.4 * MS, abs=1e-9)


def test_mini_slot_configured_grant_timeline() -> None:
    """urllc (mu = 3, 125 us slots, DSUU, 4:2:8, 2-symbol mini-slots): with a 0.5 ms period UE 0's
    occasion is the first mini-slot of each 56-symbol period, symbol 20 (the special slot's uplink).
    Data at 0, ready at 0.05 ms (5.6 symbols), goes in symbols 20-21, ends at 22 symbols =
    0.19643 ms, +0.1 ms decoding +0.05 ms core. (32 B of payload is 84 B over the radio: within the
    96 B grant.)"""
    config = cell_config(profile="urllc", bler=0, **NO_EQUIPMENT)
    symbol = 0.125 * MS / 14
    assert one_packet(config, 0.0, payload=32) == pytest.approx(22 * symbol + 0.15 * MS, abs=1e-9)


def test_configured_grant_overflow_goes_in_the_next_occasion() -> None:
    """100 B of payload is 152 B over the radio: with a period of one slot (occasions at symbols 20,
    28, 42, ...), the grant at symbols 20-21 carries 27 PRBs x 2 symbols x 1.79 B (96.7 B), the rest
    goes in the next occasion (symbols 28-29, before any dynamic grant could come): delivered at
    30 symbols + 0.15 ms."""
    config = cell_config(profile="urllc", bler=0, **NO_EQUIPMENT, cg_period="0.125ms")
    symbol = 0.125 * MS / 14
    assert one_packet(config, 0.0, payload=100) == pytest.approx(30 * symbol + 0.15 * MS, abs=1e-9)


def test_configured_grant_overflow_goes_by_buffer_status_report() -> None:
    """With occasions only every 1 ms (symbols 20, 132, ...), the buffer status report sent with the
    first 96.7 B (decoded at 22 symbols + 0.1 ms = 33.2 symbols) brings a dynamic grant: PDCCH at the
    next D or S slot start (slot 4, symbol 56), k2 = 1 -> first mini-slot from slot 5 (symbol 70):
    symbols 76-77, sooner than the next occasion; delivered at 78 symbols + 0.15 ms."""
    config = cell_config(profile="urllc", bler=0, **NO_EQUIPMENT, cg_period="1ms")
    symbol = 0.125 * MS / 14
    assert one_packet(config, 0.0, payload=100) == pytest.approx(78 * symbol + 0.15 * MS, abs=1e-9)


def test_private_lte_timeline_in_tdd_configuration_2() -> None:
    """private-lte: 1 ms subframes, TDD configuration 2 (D S U D D, TS 36.211 Table 4.2-2), no
    PUSCH or SR in UpPTS, an SR every 10 ms (every 2nd U subframe, TS 36.213 Table 10.1.5-1).
    Data at 0.1 ms: SR in U subframe 2 (received 3.0 ms), 2 ms of eNB processing -> grant in D
    subframe 5, PUSCH no sooner than 4 subframes later (TS 36.213 8.0) -> U subframe 12 (12-13 ms),
    decoded 15.0 ms, local core 0.5 ms: 15.5 ms. Data at 3.1 ms waits for the SR in subframe 12
    (the one at 7 is not its): grant at 15, PUSCH at 22, delivered 25.5 ms."""
    config = cell_config(profile="private-lte", **{**EXACT, "core_latency": "0.5ms"})
    assert config.prb_count == 100  # 20 MHz, TS 36.101 Table 5.6-1 (NR would have 106)
    assert one_packet(config, 0.1 * MS) == pytest.approx(15.5 * MS, abs=1e-9)
    assert one_packet(config, 3.1 * MS) == pytest.approx(25.5 * MS, abs=1e-9)


def test_grid_of_the_profiles() -> None:
    """Uplink opportunities per period: DDDSU slot-based has two (the U slot and the special slot's
    two uplink symbols), one without special_slot_data; urllc's DSUU with 2-symbol mini-slots has 4
    in the special slot and 7 in each U slot."""
    assert Grid(cell_config(profile="sa-midband")).ul.count == 2
    assert Grid(cell_config(profile="sa-midband", special_slot_data=False)).ul.count == 1
    assert Grid(cell_config(profile="urllc")).ul.count == 4 + 7 + 7


def test_prb_counts_and_spectral_efficiency_from_3gpp_tables() -> None:
    """TS 38.101-1: 100 MHz at 30 kHz has 273 PRBs, 40 MHz 106; TS 38.101-2: 100 MHz at 120 kHz 66.
    TS 38.214 Table 5.1.3.1-1: MCS 20 is 64QAM at 567/1024, MCS 9 QPSK at 679/1024."""
    assert prbs_for(1, 100e6) == 273
    assert prbs_for(1, 40e6) == 106
    assert prbs_for(3, 100e6) == 66
    assert spectral_efficiency(20) == pytest.approx(6 * 567 / 1024)
    assert spectral_efficiency(9) == pytest.approx(2 * 679 / 1024)


def test_harq_retransmission_comes_one_tdd_period_later() -> None:
    """With every attempt failing, the gNB asks for the block again as for a request: it decodes
    the U slot ending at 2.5 ms by 3.0 ms, grants in D slot 6, k2 = 2 -> the next whole U slot,
    9 (4.5 ms): 2.5 ms per retransmission; after max_transmissions the RLC adds its recovery."""
    base = dict(
        profile="sa-midband",
        uplink_access="configured_grant",
        core_latency="0.4ms",
        cg_period="2.5ms",
        **NO_EQUIPMENT,
    )
    clean = one_packet(cell_config(**base, bler=0), 0.1 * MS)
    failing = one_packet(
        cell_config(
            **base,
            bler=0.999999,
            retransmission_bler=0.999999,
            max_transmissions=3,
            rlc_retransmission="10ms",
        ),
        0.1 * MS,
    )
    assert failing - clean == pytest.approx(2 * 2.5 * MS + 10 * MS, abs=1e-9)


# ------------------------------------------------------------------------- whole scenarios


def scenario(
    network: dict, streams: dict, count: int = 1, duration: str = "20s", **extra
) -> Scenario:
    """``count`` machines ``m`` on 5G cell ``cell`` (``network`` over its profile) publishing
    ``streams`` to a free broker and subscriber ``sink``."""
    return plant_scenario(
        name="nr",
        duration=duration,
        warmup="1s",
        seed=5,
        network={"kind": "nr5g", **network},
        net="cell",
        streams=streams,
        count=count,
        **extra,
    )


def test_sa_midband_uplink_latency_lands_where_the_aachen_trial_measured() -> None:
    """One machine, 100 B every 10 ms, grant based: p50 between 3 and 10 ms (Aachen set 2a: 6.41 ms).
    The phase of a periodic stream to the TDD frame is random per machine; 20 machines cover it."""
    result = run_scenario(
        scenario(
            {"profile": "sa-midband"},
            {"s": {"topic": "t/{id}", "every": "10ms", "payload": "100B"}},
            count=20,
        )
    )
    latency = result.streams[0].latency_s
    assert 3 * MS <= latency["p50"] <= 10 * MS


def test_configured_grant_is_faster_than_grant_based() -> None:
    """The same traffic: configured grant skips the request and the grant, about 2.5 ms less."""
    figures = {}
    for access in ("grant_based", "configured_grant"):
        result = run_scenario(
            scenario(
                {"profile": "sa-midband", "uplink_access": access, "cg_period": "2.5ms"},
                {"s": {"topic": "t/{id}", "poisson": "50/s", "payload": "100B"}},
                count=10,
            )
        )
        figures[access] = result.streams[0].latency_s
    assert figures["configured_grant"]["p50"] + 1.5 * MS < figures["grant_based"]["p50"]
    assert figures["configured_grant"]["mean"] < figures["grant_based"]["mean"]


def test_urllc_meets_one_millisecond_for_small_packets() -> None:
    """urllc, 32 B every 7 ms (the DETERMINISTIC6G set 3a traffic): p99 under 1 ms (TR 38.913)."""
    result = run_scenario(
        scenario(
            {"profile": "urllc"},
            {"s": {"topic": "t/{id}", "every": "7ms", "payload": "32B"}},
            count=10,
        )
    )
    assert result.streams[0].latency_s["p99"] < 1 * MS


def ts38306_rate(config: Nr5gNetwork, direction: str) -> float:
    """The approximate data rate of TS 38.306 section 4.1.2 for one carrier, in bit/s:
    layers x Q_m x f x R x N_PRB x 12 / T_s x (1 - OH), with T_s = 1 ms / (14 x 2^mu) the average
    symbol duration and f = 1, times the share of symbols the TDD pattern gives the direction
    (the formula is written for a carrier that sends every symbol). Q_m x R is the MCS's, so
    at MCS 27 this is the TS 38.306 peak."""
    order, rate = {9: (2, 679), 16: (4, 658), 20: (6, 567), 27: (6, 948)}[config.mcs]
    pattern = "F" if config.tdd_pattern == "FDD" else config.tdd_pattern
    down, _, up = (int(n) for n in config.special_slot.split(":"))
    if direction == "up":
        layers, overhead = config.uplink_layers, config.uplink_overhead
        symbols = 14 * sum(letter in "UF" for letter in pattern)
        if config.mini_slot:
            symbols += pattern.count("S") * (up // config.mini_slot) * config.mini_slot
        elif config.special_slot_data:
            symbols += pattern.count("S") * up
    else:
        layers, overhead = config.layers, config.overhead
        symbols = 14 * sum(letter in "DF" for letter in pattern)
        symbols += pattern.count("S") * down * config.special_slot_data
    share = symbols / (14 * len(pattern))
    prbs = config.prb_count
    symbol_time = 1e-3 / (14 * 2**config.numerology)
    return layers * order * rate / 1024 * prbs * 12 / symbol_time * (1 - overhead) * share


def radio_share(payload: int) -> float:
    """Payload bytes per radio byte of a QoS 0 PUBLISH on topic t/N: MQTT fixed header (1 B and a
    3-byte remaining length), 2 + 3 B of topic, then 40 B of TCP/IP per 1460 B segment and 7 B of
    PDCP/RLC/MAC per IP packet."""
    mqtt = payload + 1 + 3 + 2 + 3
    segments = -(-mqtt // 1460)
    return payload / (mqtt + segments * (40 + 7))


@pytest.mark.parametrize("profile", ["sa-midband", "sa-mmwave", "urllc", "nsa-public"])
@pytest.mark.parametrize("direction", ["up", "down"])
def test_saturated_cell_carries_the_ts38306_rate(profile: str, direction: str) -> None:
    """Offered far more than the cell carries (no HARQ failures), the radio bytes delivered per
    second are the TS 38.306 rate of the profile's carrier, MCS, layers and overhead, over the
    symbols its pattern gives the direction, within 2 %; the backlog, not the model, shows the
    overload: latency grows, messages remain in flight, every one accounted for."""
    payload = 150_000
    config = cell_config(profile=profile, bler=0)
    expected = ts38306_rate(config, direction)
    count = math.ceil(1.5 * expected / (payload * 8 * 100))  # 1.5 x the capacity, 100 msg/s each
    streams = {"s": {"topic": "t/{id}", "every": "10ms", "payload": f"{payload}B"}}
    cell = {"kind": "nr5g", "profile": profile, "bler": 0}
    if direction == "up":
        spec = scenario(cell, streams, count=count, duration="4s")
    else:
        spec = plant_scenario(
            name="nr",
            duration="4s",
            warmup="1s",
            seed=5,
            network={"kind": "parametric"},
            networks={"cell": cell},
            net="lan",
            streams=streams,
            count=count,
            subscribers={"sink": {"broker": "b", "topics": ["#"], "network": "cell"}},
        )
    result = run_scenario(spec)
    row = result.streams[0]
    assert row.throughput_bit_s / radio_share(payload) == pytest.approx(expected, rel=0.02)
    assert row.in_flight > 0
    # what was published in the window waits behind the backlog: late, or not through at all
    assert row.latency_s is None or row.latency_s["max"] > 1.0
    assert row.published == row.delivered + row.dropped + row.in_flight
    assert result.networks["cell"][direction]["radio_utilisation"] >= 0.98


def test_ts38306_peak_rates_of_the_profiles() -> None:
    """The formula above at MCS 27 (64QAM, R = 948/1024, TS 38.306's R_max) against rates computed
    by hand: sa-midband 100 MHz n78 uplink 2 layers over 16 of 70 symbols: 273 x 12 x 28000 symbols
    /s x 5.555 bit x 2 x 0.92 x 16/70 = 214.3 Mbit/s; downlink 4 layers over 52/70 with OH 0.14:
    1.31 Gbit/s."""
    peak = cell_config(profile="sa-midband", mcs=27)
    up = 273 * 12 * 28_000 * 6 * 948 / 1024 * 2 * 0.92 * 16 / 70
    down = 273 * 12 * 28_000 * 6 * 948 / 1024 * 4 * 0.86 * 52 / 70
    assert ts38306_rate(peak, "up") == pytest.approx(up)
    assert ts38306_rate(peak, "down") == pytest.approx(down)
    assert 214e6 < up < 215e6 and 1.30e9 < down < 1.32e9


def test_configured_grants_hold_their_prbs_whether_used_or_not() -> None:
    """40 robots with a 512 B configured grant every 2.5 ms hold 4 PRBs each in every U slot
    (512 B / 128.4 B per PRB of 14 symbols) and send almost nothing (one message a second); the
    saturated grant-based machines get what is left: of the 273 x 16 PRB-symbols of uplink per
    DDDSU period, 160 x 14 are held, so their throughput falls by exactly that share (within the
    PRB rounding of a shared opportunity, 0.5 %)."""
    streams = {"s": {"topic": "t/{id}", "every": "1ms", "payload": "15kB"}}  # 2 x 120 Mbit/s
    idle = {"count": 40, "network": "cell", "broker": "b", "streams": {
        "j": {"topic": "r/{id}", "every": "1s", "payload": "100B"}}}  # fmt: skip
    throughput = {}
    for held in (False, True):
        cell = {"kind": "nr5g", "profile": "sa-midband", "bler": 0}
        if held:
            cell["slices"] = {"control": {"machines": ["r"], "uplink_access": "configured_grant",
                                          "cg_period": "2.5ms", "cg_size": "512B"}}  # fmt: skip
        result = run_scenario(scenario(cell, streams, count=2, duration="4s", machines={"r": idle}))
        throughput[held] = next(
            row for row in result.streams if row.machine == "m"
        ).throughput_bit_s
    share = 160 * 14 / (273 * 16)
    assert throughput[True] / throughput[False] == pytest.approx(1 - share, rel=0.005)


def test_an_oversubscribed_configured_grant_is_refused_with_its_prb_counts(tmp_path) -> None:
    """234 UEs with a 512 B grant every 2.5 ms (the old line3-5g.yaml) ask 4 PRBs each of the one U
    slot per period: 936 PRBs of 273. validate names the file, the network and both counts."""
    data = plant(
        network={
            "kind": "nr5g",
            "profile": "sa-midband",
            "uplink_access": "configured_grant",
            "cg_period": "2.5ms",
            "cg_size": "512B",
        },
        net="plant-5g",
        streams={"s": {"topic": "t/{id}", "every": "10ms", "payload": "100B"}},
        count=234,
    )
    path = tmp_path / "cell.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = factory5g("validate", str(path))
    assert done.returncode == 2
    assert (
        f"{path}: networks.plant-5g: configured grants reserve 936 PRBs per uplink slot "
        "(234 UEs x up to 4 PRBs); the cell has 273" in done.stderr
    )
    assert "Traceback" not in done.stderr
    # spread over the four U slots of a 10 ms period, 59 of them share a slot: 236 PRBs, admitted
    data["networks"]["plant-5g"]["cg_period"] = "10ms"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert factory5g("validate", str(path)).returncode == 0


@pytest.mark.parametrize(
    ("period", "allowed"),
    [("2.5ms", True), ("0.5ms", True), ("1ms", True), ("7.5ms", True), ("0.25ms", True),
     ("0.1ms", False), ("1.2ms", False), ("641ms", False)],
)  # fmt: skip
def test_configured_grant_periods_are_those_of_ts38331(period: str, allowed: bool) -> None:
    """At 30 kHz a slot is 0.5 ms (14 symbols of 35.7 us): whole slots up to 640 ms, or 2 or 7
    symbols (0.25 ms is 7); 0.1 ms (2.8 symbols), 1.2 ms (2.4 slots) and 641 ms are not."""
    if allowed:
        cell_config(profile="sa-midband", cg_period=period)
    else:
        with pytest.raises(ValueError, match=r"TS 38\.331"):
            cell_config(profile="sa-midband", cg_period=period)


def test_radio_utilisation_grows_with_the_load_it_carries() -> None:
    """Lightly loaded (100 B every 10 ms per machine, no HARQ failures), each message takes the
    same PRBs of one uplink slot, so 10 machines use twice the share of 5 (within 1 %: each
    machine publishes 600 times in 6 s, and machines that share a slot each round up to whole
    PRBs), and only a little of the cell: 86 kbit/s of MQTT per machine, of ~100 Mbit/s."""
    shares = []
    for count in (5, 10):
        result = run_scenario(
            scenario(
                {"profile": "sa-midband", "bler": 0},
                {"s": {"topic": "t/{id}", "every": "10ms", "payload": "100B"}},
                count=count,
                duration="6s",
            )
        )
        shares.append(result.networks["cell"]["up"]["radio_utilisation"])
    assert shares[1] == pytest.approx(2 * shares[0], rel=0.01)
    assert 0 < shares[1] < 0.05


def test_round_robin_shares_a_saturated_cell_equally() -> None:
    """Two saturated machines under round robin get the same throughput (within 2 %), and every
    message is accounted for."""
    plant = Plant(
        scenario(
            {"profile": "sa-midband", "bler": 0, "scheduler": "round_robin"},
            {"s": {"topic": "t/{id}", "every": "5ms", "payload": "150kB"}},
            count=2,
            duration="4s",
        )
    )
    plant.run()
    row = plant.rows[("m", "s", "sink")]
    instances = np.asarray(row.delivered_instance)
    first, second = (np.count_nonzero(instances == i) for i in (0, 1))
    assert first == pytest.approx(second, rel=0.02)
    (record,) = plant.records()  # raises ConservationError if a message went missing
    assert record.in_flight > 0


def test_a_slice_keeps_its_share_under_overload() -> None:
    """Under strict priority the cameras' slice (priority 2) takes every PRB it can use; a slice
    reserving 30 % of the PRBs for the robots keeps their small messages fast all the same, while
    without it they wait behind the cameras' backlog."""

    def run(slices: dict) -> tuple[float, float | None]:
        """The share of the robots' messages delivered by the end, and their p99 latency."""
        sc = Scenario.model_validate(
            {
                "name": "slices",
                "duration": "4s",
                "warmup": "1s",
                "networks": {
                    "cell": {
                        "kind": "nr5g",
                        "profile": "sa-midband",
                        "bler": 0,
                        "slices": slices,
                        "scheduler": "strict_priority",
                    }
                },
                "brokers": {"b": {}},
                "machines": {
                    "camera": {
                        "count": 3,
                        "network": "cell",
                        "broker": "b",
                        "streams": {"f": {"topic": "c/{id}", "every": "5ms", "payload": "150kB"}},
                    },
                    "robot": {
                        "count": 4,
                        "network": "cell",
                        "broker": "b",
                        "streams": {"j": {"topic": "r/{id}", "every": "4ms", "payload": "120B"}},
                    },
                },
                "subscribers": {"sink": {"broker": "b", "topics": ["#"]}},
            }
        )
        row = run_scenario(sc).stream("robot", "j", "sink")
        return row.delivered / row.published, row.latency("p99")

    video = {"machines": ["camera"], "share": "10%", "priority": 2}
    protected = run(
        {"video": video, "control": {"machines": ["robot"], "share": "30%", "priority": 1}}
    )
    unprotected = run({"video": video})
    assert protected[0] > 0.99
    assert protected[1] < 10 * MS
    assert unprotected[0] < 0.5  # starved behind the cameras


def test_conservation_and_determinism_on_the_contract_5g_line() -> None:
    """line3-5g (sa-midband, configured grant) runs; every row balances; same seed, same numbers."""
    sc = load_scenario(FIXTURES / "line3-5g.yaml", {"duration": "4s", "replications": 1})
    first = run_scenario(sc).to_dict()["streams"]
    second = run_scenario(sc).to_dict()["streams"]
    assert first == second
    for row in first:
        assert row["published"] == row["delivered"] + row["dropped"] + row["in_flight"]
