"""The Genesys aggregate metrics Streamvane computes, by their Genesys names.

``t``-metrics are durations in integer milliseconds with ``count``/``sum``/``min``/``max``;
``n``-metrics are counts. Which event each metric comes from, and which interval it lands in, is
decided in :mod:`streamvane.kpi.correlation`; ``oServiceLevel`` is derived from these once, when
an interval's stats are frozen into a feed record (:mod:`streamvane.kpi.service_level`).
"""

from __future__ import annotations

from typing import Final

N_OFFERED: Final = "nOffered"
N_OVER_SLA: Final = "nOverSla"
N_TRANSFERRED: Final = "nTransferred"
T_ANSWERED: Final = "tAnswered"
T_ABANDON: Final = "tAbandon"
T_SHORT_ABANDON: Final = "tShortAbandon"
T_FLOW_OUT: Final = "tFlowOut"
T_WAIT: Final = "tWait"
T_TALK_COMPLETE: Final = "tTalkComplete"
T_HELD_COMPLETE: Final = "tHeldComplete"
T_ALERT: Final = "tAlert"
T_ACW: Final = "tAcw"
T_HANDLE: Final = "tHandle"
O_SERVICE_LEVEL: Final = "oServiceLevel"

COUNT_METRICS: Final = (N_OFFERED, N_OVER_SLA, N_TRANSFERRED)
DURATION_METRICS: Final = (
    T_ANSWERED,
    T_ABANDON,
    T_SHORT_ABANDON,
    T_FLOW_OUT,
    T_WAIT,
    T_TALK_COMPLETE,
    T_HELD_COMPLETE,
    T_ALERT,
    T_ACW,
    T_HANDLE,
)
# The order metrics are written in, in every output: Genesys' alphabetical order of names.
OUTPUT_ORDER: Final = tuple(sorted((*COUNT_METRICS, *DURATION_METRICS, O_SERVICE_LEVEL)))
