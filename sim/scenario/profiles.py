"""Built-in 5G NR cell profiles: complete radio configurations a scenario starts from.

A scenario names a profile (``profile: sa-midband``) and overrides any field. Each value is written as
a scenario would write it, and each leans on a published figure:

``sa-midband``: a private 5G standalone cell like the Aachen trial network (Ansari et al., "Performance
of 5G Trials for Industrial Automation", Electronics 11(3):412, 2022; DETERMINISTIC6G set 2a): 3.7 GHz
(band n78), 100 MHz, 30 kHz subcarriers (mu = 1, 273 PRBs, TS 38.101-1 Table 5.3.2-1), the common
DDDSU pattern with a 10:2:2 special slot, grant-based uplink. Transport blocks are sent at MCS 20 of
TS 38.214 Table 5.1.3.1-1 (64QAM, R = 567/1024) on two layers (UL MIMO of current industrial 5G
modules), about 100 Mbit/s of uplink PHY rate, aimed at the eMBB BLER target of 10 %, with
HARQ retransmissions about one TDD period later (up to 4 transmissions). Packet core (UPF) to broker
0.4 ms (Rischke et al., IEEE Access 2021: core processing up to 0.4 ms).

``urllc``: the 28 GHz URLLC prototype of the same trials (set 3a): mu = 3 (120 kHz, 125 us slots),
100 MHz (66 PRBs, TS 38.101-2), a DSUU pattern, 2-symbol mini-slots, configured-grant uplink every
mini-slot, a robust MCS (9: QPSK, R = 679/1024) and a 1e-5 BLER target (TR 38.913 reliability); UPF
co-located with the broker (0.05 ms).

``nsa-public``: a public non-standalone network reached through the operator's core: LTE anchor, NR
mid-band 40 MHz at mu = 1 (106 PRBs), DDDSU, grant-based, eMBB BLER, and an operator core and
transport of about 10 ms median (commercial NSA measurements, Munich 2022: one-way uplink up to
about 18 ms at load).
"""

from __future__ import annotations

from typing import Any

PROFILES: dict[str, dict[str, Any]] = {
    "sa-midband": {
        "numerology": 1,
        "bandwidth": "100MHz",
        "tdd_pattern": "DDDSU",
        "special_slot": "10:2:2",
        "mini_slot": None,
        "uplink_access": "grant_based",
        "sr_period": 1,
        "cg_period": "10ms",
        "cg_size": "320B",
        "k2": 2,
        "gnb_processing": "0.5ms",
        "ue_processing": "0.25ms",
        "mcs": 20,
        "layers": 4,
        "uplink_layers": 2,
        "overhead": "14%",
        "uplink_overhead": "8%",
        "special_slot_data": True,
        "scheduler": "round_robin",
        "bler": "10%",
        "uplink_bler": "10%",
        "retransmission_bler": "1%",
        "harq_rtt": "3.5ms",
        "max_transmissions": 4,
        "rlc_retransmission": "10ms",
        "core_latency": "0.4ms",
        "equipment": {"up": "1.5ms", "down": "3.3ms"},
    },
    "urllc": {
        "numerology": 3,
        "bandwidth": "100MHz",
        "tdd_pattern": "DSUU",
        "special_slot": "4:2:8",
        "mini_slot": 2,
        "uplink_access": "configured_grant",
        "sr_period": 1,
        "cg_period": "0.5ms",
        "cg_size": "96B",
        "k2": 1,
        "gnb_processing": "0.1ms",
        "ue_processing": "0.05ms",
        "mcs": 9,
        "layers": 2,
        "uplink_layers": 1,
        "overhead": "18%",
        "uplink_overhead": "10%",
        "special_slot_data": True,
        "scheduler": "round_robin",
        "bler": 0.00001,
        "uplink_bler": 0.00001,
        "retransmission_bler": 0.00001,
        "harq_rtt": "0.25ms",
        "max_transmissions": 4,
        "rlc_retransmission": "5ms",
        "core_latency": "0.05ms",
        "equipment": {"up": "0.22ms", "down": {"lognormal": {"median": "0.25ms", "p99": "0.42ms"}}},
    },
    "sa-mmwave": {
        "numerology": 3,
        "bandwidth": "100MHz",
        "tdd_pattern": "DDDSU",
        "special_slot": "10:2:2",
        "mini_slot": None,
        "uplink_access": "grant_based",
        "sr_period": 1,
        "cg_period": "2.5ms",
        "cg_size": "256B",
        "k2": 1,
        "gnb_processing": "0.1ms",
        "ue_processing": "0.1ms",
        "mcs": 20,
        "layers": 2,
        "uplink_layers": 1,
        "overhead": "18%",
        "uplink_overhead": "10%",
        "special_slot_data": True,
        "scheduler": "round_robin",
        "bler": "5%",
        "uplink_bler": "1%",
        "retransmission_bler": "1%",
        "harq_rtt": "0.5ms",
        "max_transmissions": 4,
        "rlc_retransmission": "5ms",
        "core_latency": "0.1ms",
        "equipment": {"up": "1.3ms", "down": "1ms"},
    },
    "private-lte": {
        "numerology": 0,
        "bandwidth": "20MHz",
        "tdd_pattern": "DSUDD",
        "special_slot": "12:2:0",
        "mini_slot": None,
        "uplink_access": "grant_based",
        "sr_period": 2,
        "cg_period": "10ms",
        "cg_size": "256B",
        "k2": 4,
        "gnb_processing": "2ms",
        "ue_processing": "1ms",
        "mcs": 16,
        "layers": 2,
        "uplink_layers": 1,
        "overhead": "24%",
        "uplink_overhead": "20%",
        "special_slot_data": True,
        "scheduler": "proportional_fair",
        "bler": "10%",
        "uplink_bler": "10%",
        "retransmission_bler": "1%",
        "harq_rtt": "8ms",
        "max_transmissions": 4,
        "rlc_retransmission": "20ms",
        "core_latency": "0.5ms",
        "equipment": {"up": "0s", "down": "0s"},
    },
    "nsa-public": {
        "numerology": 1,
        "bandwidth": "40MHz",
        "tdd_pattern": "DDDSU",
        "special_slot": "10:2:2",
        "mini_slot": None,
        "uplink_access": "grant_based",
        "sr_period": 2,
        "cg_period": "10ms",
        "cg_size": "256B",
        "k2": 2,
        "gnb_processing": "1ms",
        "ue_processing": "0.5ms",
        "mcs": 16,
        "layers": 4,
        "uplink_layers": 1,
        "overhead": "14%",
        "uplink_overhead": "8%",
        "special_slot_data": True,
        "scheduler": "proportional_fair",
        "bler": "10%",
        "uplink_bler": "10%",
        "retransmission_bler": "1%",
        "harq_rtt": "2ms",
        "max_transmissions": 4,
        "rlc_retransmission": "20ms",
        "core_latency": {"lognormal": {"median": "10ms", "p99": "18ms"}},
        "equipment": {"up": "0s", "down": "0s"},
    },
}


# Maximum transmission bandwidth N_RB for (subcarrier spacing kHz, channel bandwidth MHz):
# TS 38.101-1 Table 5.3.2-1 (FR1: 15, 30, 60 kHz) and TS 38.101-2 Table 5.3.2-1 (FR2: 120 kHz;
# 60 kHz at 200 MHz).
PRB_TABLE: dict[tuple[int, int], int] = {
    (15, 5): 25, (15, 10): 52, (15, 15): 79, (15, 20): 106, (15, 25): 133, (15, 30): 160,
    (15, 40): 216, (15, 50): 270,
    (30, 5): 11, (30, 10): 24, (30, 15): 38, (30, 20): 51, (30, 25): 65, (30, 30): 78,
    (30, 40): 106, (30, 50): 133, (30, 60): 162, (30, 70): 189, (30, 80): 217, (30, 90): 245,
    (30, 100): 273,
    (60, 10): 11, (60, 15): 18, (60, 20): 24, (60, 25): 31, (60, 30): 38, (60, 40): 51,
    (60, 50): 65, (60, 60): 79, (60, 70): 93, (60, 80): 107, (60, 90): 121, (60, 100): 135,
    (60, 200): 264,
    (120, 50): 32, (120, 100): 66, (120, 200): 132, (120, 400): 264,
}  # fmt: skip


# LTE transmission bandwidth N_RB per channel bandwidth in MHz: TS 36.101 Table 5.6-1.
LTE_PRB_TABLE: dict[float, int] = {1.4: 6, 3: 15, 5: 25, 10: 50, 15: 75, 20: 100}

LTE_PROFILES = frozenset({"private-lte"})  # profiles of an LTE carrier (TS 36 series)


def prbs_for(numerology: int, bandwidth: float, profile: str | None = None) -> int | None:
    """PRBs of a carrier, or None when the combination is not in the 3GPP tables; an LTE
    profile's carrier (15 kHz subcarriers) by the LTE table."""
    if profile in LTE_PROFILES:
        return LTE_PRB_TABLE.get(round(bandwidth / 1e6, 1)) if numerology == 0 else None
    return PRB_TABLE.get((15 << numerology, round(bandwidth / 1e6)))


# Wi-Fi PHY and MAC generations (``kind: wifi``, ``profile:``). Each is one common configuration of
# its amendment in the 5 GHz band, long guard interval, with A-MPDU aggregation and block ACK as
# every AP of the generation does; ``aggregation: 1`` turns aggregation off (one MPDU, normal ACK).
WIFI_PROFILES: dict[str, dict[str, Any]] = {
    # 802.11n (HT, clause 19): 20 MHz, 1 spatial stream, MCS 7: 65 Mbit/s (Table 19-27); HT-mixed
    # preamble L-STF 8 + L-LTF 8 + L-SIG 4 + HT-SIG 8 + HT-STF 4 + HT-LTF 4 us (19.3.2); A-MPDU up to
    # 65,535 B (maximum A-MPDU length exponent 3) and a block ACK window of 64 MPDUs (10.25.6).
    "802.11n": {
        "phy_rate": "65Mbps",
        "phy_header": "36us",
        "aggregation": 64,
        "max_ampdu": "65535B",
        "max_ppdu_time": "10ms",
    },
    # 802.11ac (VHT, clause 21): 80 MHz, 2 spatial streams, MCS 9: 780 Mbit/s (the VHT-MCS tables of
    # 21.5: 390 Mbit/s per stream at 800 ns GI); VHT preamble L-STF 8 + L-LTF 8 + L-SIG 4 +
    # VHT-SIG-A 8 + VHT-STF 4 + 2 VHT-LTF 8 + VHT-SIG-B 4 = 44 us (21.3.4); A-MPDU up to 1,048,575 B,
    # block ACK window 64, a PPDU at most aPPDUMaxTime 5.484 ms.
    "802.11ac": {
        "phy_rate": "780Mbps",
        "phy_header": "44us",
        "aggregation": 64,
        "max_ampdu": "1048575B",
        "max_ppdu_time": "5.484ms",
    },
    # 802.11ax (HE, clause 27): 80 MHz, 2 spatial streams, MCS 11, 0.8 us GI: 1201 Mbit/s; HE SU
    # preamble L-STF 8 + L-LTF 8 + L-SIG 4 + RL-SIG 4 + HE-SIG-A 8 + HE-STF 4 + 2 HE-LTF of 7.2 us
    # (2x LTF) = 50.4 us, rounded up to the 4 us symbol grid of the legacy part: 52 us; block ACK
    # window 256, A-MPDU up to 6,500,631 B, aPPDUMaxTime 5.484 ms.
    "802.11ax": {
        "phy_rate": "1201Mbps",
        "phy_header": "52us",
        "aggregation": 256,
        "max_ampdu": "6500631B",
        "max_ppdu_time": "5.484ms",
    },
}
