"""Events → Genesys metric observations, each stamped with the event time it lands at.

Interval membership follows Genesys (``shared/docs/genesys-reference.md`` §2.4): every metric
lands at the event time of **its own** event.

=================  =========================================  ==================================
metric             from                                       lands at
=================  =========================================  ==================================
nOffered           acd.start                                  acd.start
tAnswered          acd.end ANSWERED, wait = end − start       acd.end
tAbandon           acd.end ABANDON (short ones included)      acd.end
tShortAbandon      acd.end ABANDON, wait < short threshold    acd.end
tFlowOut           acd.end FLOW_OUT                           acd.end
tWait              acd.end, any outcome                       acd.end
nOverSla           ANSWERED with wait > the queue's SL        acd.end
tTalkComplete,     user.end interacting/held/alerting ms      user.end
tHeldComplete,     (only when > 0)
tAlert
nTransferred       user.end with a transfer disconnect        user.end
tAcw               acw wrapupDurationMs                       acw
tHandle            talk + held + wrap-up, per agent session   the acw, if it comes within the ACW
                                                              grace of user.end; else user.end
                                                              (talk + held only)
=================  =========================================  ==================================

Correlation state (an acd.start waiting for its acd.end, a user.end waiting for its acw, and
the reverse for out-of-order delivery) is explicit, bounded by ``max_open_entries`` and
expires by **event time**: the watermark is the newest event time seen minus
``reorder_tolerance_ms``. Everything that expires unmatched is counted in :class:`CorrelationCounts`.
Duplicates — same (conversationId, sessionId, topic, eventTime) — are dropped for
``dedupe_horizon_ms`` of event time.

The outcome does not depend on arrival order as long as every event arrives within the reorder
tolerance of the newest one: that is what ``reorder_tolerance_ms`` promises.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from streamvane.genesys.events import (
    KPI_KINDS,
    OUTCOME_ABANDON,
    OUTCOME_ANSWERED,
    OUTCOME_FLOW_OUT,
    TRANSFER_DISCONNECTS,
    ConversationEvent,
    EventKind,
)
from streamvane.kpi import metrics as m
from streamvane.kpi.config import KpiConfig, ServiceLevelTarget

SessionKey = tuple[str, str]  # (conversationId, sessionId)
_ACD_START, _ACD_END, _USER_END = EventKind.ACD_START, EventKind.ACD_END, EventKind.USER_END
_EXPIRY_STEP_MS = 10_000  # expiry runs at most once per 10 s of event time (amortised; same results)


class Recorder(Protocol):
    """Where observations go: an interval aggregator, or a test's list."""

    def record(self, queue_id: str, media_type: str, metric: str, value: int, at_ms: int) -> None: ...


class _AcdStart(NamedTuple):
    at_ms: int
    queue_id: str
    media_type: str


class _UserEnd(NamedTuple):
    at_ms: int
    queue_id: str
    media_type: str
    talk_and_held_ms: int


@dataclass(slots=True)
class CorrelationCounts:
    """What the correlator did besides recording metrics; reported, never silently lost."""

    duplicates: int = 0
    no_queue: int = 0
    acd_start_unmatched: int = 0
    acd_end_without_start: int = 0
    acw_without_user_end: int = 0
    acw_after_grace: int = 0
    negative_wait: int = 0
    evicted: int = 0
    unknown_outcome: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Correlator:
    """Stateful, pure event-to-observation translator. One instance per key space (partition)."""

    config: KpiConfig
    recorder: Recorder
    counts: CorrelationCounts = field(default_factory=CorrelationCounts)
    newest_ms: int = 0
    _seen: set[tuple[str, str, EventKind, int]] = field(default_factory=set)
    _seen_order: deque[tuple[int, tuple[str, str, EventKind, int]]] = field(default_factory=deque)
    _open_acd: dict[SessionKey, _AcdStart] = field(default_factory=dict)
    _ended_acd: dict[SessionKey, ConversationEvent] = field(default_factory=dict)
    _open_user: dict[SessionKey, _UserEnd] = field(default_factory=dict)
    _early_acw: dict[SessionKey, ConversationEvent] = field(default_factory=dict)
    _closed_user: dict[SessionKey, int] = field(default_factory=dict)
    _deadlines: list[tuple[int, int, SessionKey]] = field(default_factory=list)
    _sl_cache: dict[tuple[str, str], ServiceLevelTarget] = field(default_factory=dict)
    _last_expiry_ms: int = 0
    _max_entries: int = 0

    def __post_init__(self) -> None:
        self._max_entries = self.config.max_open_entries

    def accept(self, event: ConversationEvent) -> bool:
        """Apply one event; False when it changed nothing (a duplicate, or a topic with no KPI).

        Only the four topics that carry KPIs are de-duplicated (and counted as duplicates): a
        repeated customer.start or flow.end cannot change a number, so remembering it is waste.
        """
        kind = event.kind
        if kind not in KPI_KINDS:
            return False
        identity = (
            event.conversation_id,
            event.session_id,
            kind,
            event.event_time_ms,
        )  # event.identity, inlined
        seen = self._seen
        if identity in seen:
            self.counts.duplicates += 1
            return False
        seen.add(identity)
        order = self._seen_order
        order.append((event.event_time_ms, identity))
        if len(order) > self._max_entries:
            self.counts.evicted += 1
            seen.discard(order.popleft()[1])
        if kind is _ACD_START:
            self._acd_start(event)
        elif kind is _ACD_END:
            self._acd_end(event)
        elif kind is _USER_END:
            self._user_end(event)
        else:
            self._acw(event)
        if event.event_time_ms > self.newest_ms:
            self.newest_ms = event.event_time_ms
            if self.newest_ms - self._last_expiry_ms >= _EXPIRY_STEP_MS:
                self.expire(self.newest_ms - self.config.reorder_tolerance_ms)
        return True

    # -- state as data ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """All correlation state as plain JSON-able data, for a changelogged table.

        ``counts`` and caches are not state: they are reports. ``from_state(state())`` behaves
        exactly like this instance for every future event.
        """
        return {
            "newest": self.newest_ms,
            "last_expiry": self._last_expiry_ms,
            "seen": [[at, *identity] for at, identity in self._seen_order],
            "open_acd": [[*key, *start] for key, start in self._open_acd.items()],
            "ended_acd": [[*key, *event] for key, event in self._ended_acd.items()],
            "open_user": [[*key, *session] for key, session in self._open_user.items()],
            "early_acw": [[*key, *event] for key, event in self._early_acw.items()],
            "closed_user": [[*key, at] for key, at in self._closed_user.items()],
            "deadlines": [[at, kind, *key] for at, kind, key in self._deadlines if self._live(kind, key)],
        }

    @classmethod
    def from_state(cls, config: KpiConfig, recorder: Recorder, state: dict[str, Any]) -> Correlator:
        c = cls(config, recorder)
        c.newest_ms, c._last_expiry_ms = state["newest"], state["last_expiry"]
        for at, conversation, session, kind, event_time in state["seen"]:
            identity = (conversation, session, EventKind(kind), event_time)
            c._seen.add(identity)
            c._seen_order.append((at, identity))
        c._open_acd = {(a, b): _AcdStart(*rest) for a, b, *rest in state["open_acd"]}
        c._ended_acd = {(a, b): _event(rest) for a, b, *rest in state["ended_acd"]}
        c._open_user = {(a, b): _UserEnd(*rest) for a, b, *rest in state["open_user"]}
        c._early_acw = {(a, b): _event(rest) for a, b, *rest in state["early_acw"]}
        c._closed_user = {(a, b): at for a, b, at in state["closed_user"]}
        c._deadlines = [(at, kind, (a, b)) for at, kind, a, b in state["deadlines"]]
        heapq.heapify(c._deadlines)
        return c

    def next_deadline_ms(self) -> int | None:
        """The earliest event time at which :meth:`expire` will change something, if any."""
        deadlines = self._deadlines
        while deadlines and not self._live(deadlines[0][1], deadlines[0][2]):
            heapq.heappop(deadlines)
        return deadlines[0][0] if deadlines else None

    def forgettable(self, watermark_ms: int) -> bool:
        """True when nothing is open and every remembered identity is past the dedupe horizon."""
        if self.open_entries:
            return False
        return self.newest_ms < watermark_ms - self.config.dedupe_horizon_ms

    def _live(self, kind: int, key: SessionKey) -> bool:
        """Whether a deadline still guards an open entry (matched entries leave stale deadlines)."""
        table = (self._open_acd, self._ended_acd, self._open_user, self._early_acw)[kind]
        return key in table

    @property
    def open_entries(self) -> int:
        return len(self._open_acd) + len(self._ended_acd) + len(self._open_user) + len(self._early_acw)

    # -- ACD sessions -------------------------------------------------------------------------

    def _acd_start(self, event: ConversationEvent) -> None:
        queue = event.queue_id
        if queue is None:
            self.counts.no_queue += 1
            return
        key = (event.conversation_id, event.session_id)
        self.recorder.record(queue, event.media_type, m.N_OFFERED, 1, event.event_time_ms)
        start = _AcdStart(event.event_time_ms, queue, event.media_type)
        ended = self._ended_acd.pop(key, None)
        if ended is not None:
            self._acd_outcome(start, ended)
            return
        self._open_acd[key] = start
        self._deadline(event.event_time_ms + self.config.max_queue_wait_ms, 0, key)

    def _acd_end(self, event: ConversationEvent) -> None:
        key = (event.conversation_id, event.session_id)
        start = self._open_acd.pop(key, None)
        if start is None:
            self._ended_acd[key] = event
            self._deadline(event.event_time_ms, 1, key)
            return
        self._acd_outcome(start, event)

    def _acd_outcome(self, start: _AcdStart, end: ConversationEvent) -> None:
        queue = end.queue_id or start.queue_id
        media = start.media_type if end.media_type == "unknown" else end.media_type
        at = end.event_time_ms
        wait = at - start.at_ms
        if wait < 0:
            self.counts.negative_wait += 1
            wait = 0
        outcome = end.acd_outcome
        record = self.recorder.record
        if outcome == OUTCOME_ANSWERED:
            record(queue, media, m.T_ANSWERED, wait, at)
            if wait > self._service_level(queue, media).duration_ms:
                record(queue, media, m.N_OVER_SLA, 1, at)
        elif outcome == OUTCOME_ABANDON:
            record(queue, media, m.T_ABANDON, wait, at)
            if wait < self.config.short_abandon_ms:
                record(queue, media, m.T_SHORT_ABANDON, wait, at)
        elif outcome == OUTCOME_FLOW_OUT:
            record(queue, media, m.T_FLOW_OUT, wait, at)
        else:
            self.counts.unknown_outcome += 1
        record(queue, media, m.T_WAIT, wait, at)

    def _service_level(self, queue: str, media: str) -> ServiceLevelTarget:
        key = (queue, media)
        target = self._sl_cache.get(key)
        if target is None:
            target = self._sl_cache[key] = self.config.service_level_for(queue, media)
        return target

    # -- agent sessions -----------------------------------------------------------------------

    def _user_end(self, event: ConversationEvent) -> None:
        queue = event.queue_id
        if queue is None:
            self.counts.no_queue += 1
            return
        at, media, record = event.event_time_ms, event.media_type, self.recorder.record
        talk = event.interacting_ms or 0
        held = event.held_ms or 0
        if talk > 0:
            record(queue, media, m.T_TALK_COMPLETE, talk, at)
        if held > 0:
            record(queue, media, m.T_HELD_COMPLETE, held, at)
        if event.alerting_ms:
            record(queue, media, m.T_ALERT, event.alerting_ms, at)
        if event.disconnect_type in TRANSFER_DISCONNECTS:
            record(queue, media, m.N_TRANSFERRED, 1, at)
        key = (event.conversation_id, event.session_id)
        session = _UserEnd(at, queue, media, talk + held)
        acw = self._early_acw.pop(key, None)
        if acw is None:
            self._open_user[key] = session
            self._deadline(at + self.config.acw_grace_ms, 2, key)
            return
        if acw.queue_id is None:
            record(queue, media, m.T_ACW, acw.wrapup_ms or 0, acw.event_time_ms)
        self._handle(key, session, acw)

    def _acw(self, event: ConversationEvent) -> None:
        key = (event.conversation_id, event.session_id)
        session = self._open_user.pop(key, None)
        queue = event.queue_id or (session.queue_id if session else None)
        if queue is not None:
            media = session.media_type if session and event.media_type == "unknown" else event.media_type
            self.recorder.record(queue, media, m.T_ACW, event.wrapup_ms or 0, event.event_time_ms)
        if session is not None:
            self._handle(key, session, event)
        elif key in self._closed_user:
            self.counts.acw_after_grace += 1
            self.counts.no_queue += queue is None
        else:
            self._early_acw[key] = event
            self._deadline(event.event_time_ms, 3, key)

    def _handle(self, key: SessionKey, session: _UserEnd, acw: ConversationEvent) -> None:
        """The session's tHandle, once its acw is known (tAcw itself is recorded by the caller)."""
        if acw.event_time_ms - session.at_ms <= self.config.acw_grace_ms:
            total = session.talk_and_held_ms + (acw.wrapup_ms or 0)
            queue = acw.queue_id or session.queue_id
            media = session.media_type if acw.media_type == "unknown" else acw.media_type
            self.recorder.record(queue, media, m.T_HANDLE, total, acw.event_time_ms)
        else:
            self.counts.acw_after_grace += 1
            self._close_user(key, session)

    def _close_user(self, key: SessionKey, session: _UserEnd) -> None:
        """Without an acw in grace, the handle (talk + held) lands at user.end."""
        if session.talk_and_held_ms > 0:
            self.recorder.record(
                session.queue_id, session.media_type, m.T_HANDLE, session.talk_and_held_ms, session.at_ms
            )
        self._closed_user[key] = session.at_ms

    # -- expiry -------------------------------------------------------------------------------

    def _deadline(self, at_ms: int, kind: int, key: SessionKey) -> None:
        heapq.heappush(self._deadlines, (at_ms, kind, key))
        if self.open_entries > self.config.max_open_entries:
            self.counts.evicted += 1
            self._expire_one(*heapq.heappop(self._deadlines))

    def expire(self, watermark_ms: int) -> None:
        """Finalise everything whose deadline is before ``watermark_ms`` (event time)."""
        self._last_expiry_ms = watermark_ms + self.config.reorder_tolerance_ms
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] < watermark_ms:
            self._expire_one(*heapq.heappop(deadlines))
        horizon = watermark_ms - self.config.dedupe_horizon_ms
        order = self._seen_order
        while order and order[0][0] < horizon:  # arrival order: an identity is kept at least the horizon
            self._seen.discard(order.popleft()[1])
        closed = self._closed_user
        if closed and len(closed) > 1024:
            for key in [k for k, at in closed.items() if at < horizon]:
                del closed[key]

    def flush(self) -> None:
        """End of input: finalise every open entry as if the watermark had passed it."""
        self.expire(2**62)

    def _expire_one(self, _at_ms: int, kind: int, key: SessionKey) -> None:
        if kind == 0:
            if self._open_acd.pop(key, None) is not None:
                self.counts.acd_start_unmatched += 1
        elif kind == 1:
            if self._ended_acd.pop(key, None) is not None:
                self.counts.acd_end_without_start += 1
        elif kind == 2:
            session = self._open_user.pop(key, None)
            if session is not None:
                self._close_user(key, session)
        elif self._early_acw.pop(key, None) is not None:
            self.counts.acw_without_user_end += 1


def _event(fields: list[Any]) -> ConversationEvent:
    return ConversationEvent(EventKind(fields[0]), *fields[1:])
