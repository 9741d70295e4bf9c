"""The 5G NR cell model (sim.models.links.nr5g) against timelines and capacities derived by hand.

The timelines follow the slot arithmetic of the model's docstring: a DDDSU pattern at mu = 1 has
0.5 ms slots of 14 symbols; the special slot 10:2:2 has its two uplink symbols at symbols 12-13.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from helpers import FIXTURES, plant_scenario

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


EXACT = {"bler": 0, "core_latency": "0.4ms"}


def test_grant_based_timeline_in_a_dddsu_cell() -> None:
    """Data at 0.1 ms: SR in the special slot's uplink symbols (received 2.0 ms), +0.5 ms gNB
    processing -> PDCCH in slot 5 (2.5 ms), k2 = 2 -> first U slot from slot 7 is slot 9
    (4.5-5.0 ms), decoded 5.5 ms, through the core 5.9 ms."""
    config = cell_config(profile="sa-midband", uplink_access="grant_based", **EXACT)
    assert one_packet(config, 0.1 * MS) == pytest.approx(5.9 * MS, abs=1e-9)


def test_grant_based_data_after_the_sr_occasion_waits_a_whole_period() -> None:
    """Data at 2.1 ms misses slot 4's SR (it starts at 2.0 ms): the next SR ends at 4.5 ms (slot 8,
    special), grant in slot 10 (5.0 ms), PUSCH in U slot 14 (7.0-7.5 ms), delivered 8.4 ms."""
    config = cell_config(profile="sa-midband", uplink_access="grant_based", **EXACT)
    assert one_packet(config, 2.1 * MS) == pytest.approx(8.4 * MS, abs=1e-9)


def test_configured_grant_timeline_in_a_dddsu_cell() -> None:
    """Data at 0.1 ms, ready 0.35 ms: the configured-grant occasion in U slot 4 (2.0-2.5 ms),
    decoded 3.0 ms, delivered 3.4 ms: no request, no grant, 2.5 ms faster than grant based."""
    config = cell_config(profile="sa-midband", uplink_access="configured_grant", **EXACT)
    assert one_packet(config, 0.1 * MS) == pytest.approx(3.4 * MS, abs=1e-9)


def test_configured_grant_occasions_follow_their_period() -> None:
    """With a 5 ms period the occasions are the U slots at 2.0, 7.0, 12.0 ms...; data ready at
    2.45 ms skips the U slot at 4.5 ms (not an occasion) and goes at 7.0-7.5 ms: delivered 8.4 ms."""
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
    """urllc (mu = 3, 125 us slots, DSUU, 4:2:8, 2-symbol mini-slots): occasions every 0.125 ms land
    on symbols 20 (special slot's uplink), 28 and 42 of each 56-symbol period. Data at 0, ready at
    0.05 ms (5.6 symbols), goes in symbols 20-21, ends at 22 symbols = 0.19643 ms, +0.1 ms decoding
    +0.05 ms core. (32 B of payload is 84 B over the radio: within the 128 B occasion.)"""
    config = cell_config(profile="urllc", bler=0)
    symbol = 0.125 * MS / 14
    assert one_packet(config, 0.0, payload=32) == pytest.approx(22 * symbol + 0.15 * MS, abs=1e-9)


def test_configured_grant_overflow_goes_in_the_next_occasion() -> None:
    """100 B of payload is 152 B over the radio: the 128 B occasion at symbols 20-21 carries 128 B,
    the other 24 B go in the next occasion (symbols 28-29, before any dynamic grant could come):
    delivered at 30 symbols + 0.15 ms."""
    config = cell_config(profile="urllc", bler=0)
    symbol = 0.125 * MS / 14
    assert one_packet(config, 0.0, payload=100) == pytest.approx(30 * symbol + 0.15 * MS, abs=1e-9)


def test_configured_grant_overflow_goes_by_buffer_status_report() -> None:
    """With occasions only every 1 ms (symbols 20, 132, ...), the buffer status report sent with the
    first 128 B (decoded at 22 symbols + 0.1 ms = 33.2 symbols) brings a dynamic grant: PDCCH at the
    next D or S slot start (slot 4, symbol 56), k2 = 1 -> first mini-slot from slot 5 (symbol 70):
    symbols 76-77, sooner than the next occasion; delivered at 78 symbols + 0.15 ms."""
    config = cell_config(profile="urllc", bler=0, cg_period="1ms")
    symbol = 0.125 * MS / 14
    assert one_packet(config, 0.0, payload=100) == pytest.approx(78 * symbol + 0.15 * MS, abs=1e-9)


def test_grid_of_the_profiles() -> None:
    """Uplink opportunities per period: DDDSU slot-based has one (the U slot); urllc's DSUU with
    2-symbol mini-slots has 4 in the special slot and 7 in each U slot."""
    assert Grid(cell_config(profile="sa-midband")).ul.count == 1
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
    """With BLER 100 % on the first attempts the block goes again in the first U slot at least
    harq_rtt (2 ms) after the failed one: 2.5 ms per retransmission, and after max_transmissions
    the RLC adds its recovery delay."""
    base = dict(profile="sa-midband", uplink_access="configured_grant", core_latency="0.4ms")
    clean = one_packet(cell_config(**base, bler=0), 0.1 * MS)
    failing = one_packet(
        cell_config(**base, bler=0.999999, max_transmissions=3, rlc_retransmission="10ms"),
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
                {"profile": "sa-midband", "uplink_access": access},
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


def test_uplink_saturates_at_the_configured_capacity() -> None:
    """Offered far more than the cell carries, the delivered payload rate is the PHY capacity of
    the U slots (273 PRBs x 12 x 14 symbols x 6*567/1024 bit x 2 layers x 0.86 per 2.5 ms) times
    the payload's share of the radio bytes; and the backlog, not the model, shows the overload:
    latency grows and messages remain in flight."""
    payload = 150_000
    result = run_scenario(
        scenario(
            {"profile": "sa-midband", "bler": 0},
            {"s": {"topic": "t/{id}", "every": "10ms", "payload": f"{payload}B"}},
            count=4,
            duration="6s",
        )
    )
    row = result.streams[0]
    phy = 273 * 12 * 14 * (6 * 567 / 1024) * 2 * 0.86 / 2.5e-3  # bit/s
    segments = -(-(payload + 2 + 1 + 2 + 3) // 1460)  # MQTT header: 1 + 3-byte length + topic "t/0"
    radio = payload + 2 + 3 + 1 + 3 + segments * (40 + 7)
    expected = phy * payload / radio
    assert row.throughput_bit_s == pytest.approx(expected, rel=0.01)
    assert 40e6 <= row.throughput_bit_s <= 250e6
    assert row.in_flight > 0
    assert row.latency_s["max"] > 1.0
    assert row.published == row.delivered + row.dropped + row.in_flight
    # every uplink PRB x symbol carries data once the backlog has built (the first ms is idle)
    assert 0.98 <= result.networks["cell"]["up"]["radio_utilisation"] <= 1.0


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
