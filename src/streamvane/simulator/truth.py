"""The KPIs the simulator knows it generated, computed from its facts — not from events.

An independent path to the same numbers: it never parses or correlates an event, so comparing
it with :func:`streamvane.kpi.compute.compute` on the simulator's events tests the parser, the
correlator and the de-duplication. It applies the same Genesys rules
(:mod:`streamvane.kpi.correlation` documents them) straight to the facts.
"""

from __future__ import annotations

from streamvane.kpi import metrics as m
from streamvane.kpi.aggregate import IntervalAggregator
from streamvane.kpi.config import KpiConfig
from streamvane.kpi.intervals import IntervalGrid
from streamvane.simulator.contact_center import AcdLeg, Conversation, iter_legs

TRANSFERS = frozenset({"TRANSFER", "CONSULT_TRANSFER", "FORWARD_TRANSFER", "CONFERENCE_TRANSFER"})


def ground_truth(
    conversations: list[Conversation], grid: IntervalGrid, config: KpiConfig
) -> IntervalAggregator:
    truth = IntervalAggregator(grid)
    add = truth.record
    for conversation, leg in iter_legs(conversations):
        media = conversation.media_type
        if isinstance(leg, AcdLeg):
            q = leg.queue_id
            wait = leg.end_ms - leg.start_ms
            add(q, media, m.N_OFFERED, 1, leg.start_ms)
            add(q, media, m.T_WAIT, wait, leg.end_ms)
            if leg.outcome == "ANSWERED":
                add(q, media, m.T_ANSWERED, wait, leg.end_ms)
                if wait > config.service_level_for(q, media).duration_ms:
                    add(q, media, m.N_OVER_SLA, 1, leg.end_ms)
            elif leg.outcome == "ABANDON":
                add(q, media, m.T_ABANDON, wait, leg.end_ms)
                if wait < config.short_abandon_ms:
                    add(q, media, m.T_SHORT_ABANDON, wait, leg.end_ms)
            else:
                add(q, media, m.T_FLOW_OUT, wait, leg.end_ms)
            continue
        q = leg.queue_id
        add(q, media, m.T_TALK_COMPLETE, leg.talk_ms, leg.end_ms)
        if leg.held_ms:
            add(q, media, m.T_HELD_COMPLETE, leg.held_ms, leg.end_ms)
        add(q, media, m.T_ALERT, leg.alert_ms, leg.end_ms)
        if leg.disconnect_type in TRANSFERS:
            add(q, media, m.N_TRANSFERRED, 1, leg.end_ms)
        if leg.acw_at_ms is not None:
            add(q, media, m.T_ACW, leg.wrapup_ms, leg.acw_at_ms)
        if leg.acw_at_ms is not None:
            add(q, media, m.T_HANDLE, leg.talk_ms + leg.held_ms + leg.wrapup_ms, leg.acw_at_ms)
        elif leg.talk_ms + leg.held_ms > 0:
            add(q, media, m.T_HANDLE, leg.talk_ms + leg.held_ms, leg.end_ms)
    return truth
