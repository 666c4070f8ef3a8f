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
tHandle            talk + held + wrap-up, per agent session   the acw; a session with no acw:
                                                              talk + held at user.end
=================  =========================================  ==================================

**Arrival order does not matter.** EventBridge neither orders nor de-duplicates and retries for
up to 24 h, so the two halves of a pair (acd.start/acd.end of an ACD session, user.end/acw of an
agent session) are paired in whichever order they come. An unpaired half waits in state until the
watermark passes its own event time plus ``pairing_horizon_ms`` (an acd.start: plus its media's
longest queue wait as well), and is then counted in :class:`CorrelationCounts`. The watermark
never discards a partner that can still come. A pair whose wait is longer than its media's limit
(``max_queue_wait_by_media_ms``: days for email and messages, a day for the rest) is implausible
and counted as ``wait_over_limit``, whatever the order it came in.

**The handle of a session without an acw** is placed *provisionally* at user.end (talk + held)
once the watermark passes user.end + ``acw_grace_ms``. An acw that arrives later retracts it and
records the full handle at the acw — the interval it left is restated — as long as user.end's
interval can still be corrected (``correction_horizon_ms``, given by the owner; offline there is
no limit). Later than that it is counted as ``acw_after_horizon`` and the handle stays.

**Duplicates** — the same (conversationId, sessionId, topic, eventTime) — are recognised as long
as the session is remembered: ``dedupe_horizon_ms`` of event time after its newest event.

The correlator never reads a clock: its owner drives the watermark through :meth:`expire`.
"""

from __future__ import annotations

import heapq
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
_KIND_CODE = {EventKind.ACD_START: 0, EventKind.ACD_END: 1, EventKind.USER_END: 2, EventKind.ACW: 3}
_FOREVER = 2**62
_UNSCHEDULED = _FOREVER + 1
_FOLLOW_STEP_MS = 10_000  # with follow_newest, the watermark moves at most once per 10 s of event time

# A session's handle: none yet, recorded at the acw, provisional at user.end, or final at user.end.
_NO_HANDLE, _AT_ACW, _PROVISIONAL, _AT_USER_END = 0, 1, 2, 3


class Recorder(Protocol):
    """Where observations go: an interval aggregator, or a test's list."""

    def record(self, queue_id: str, media_type: str, metric: str, value: int, at_ms: int) -> None: ...

    def record_provisional(
        self, queue_id: str, media_type: str, metric: str, value: int, at_ms: int, multiplicity: int
    ) -> None:
        """Add (+1) or retract (−1) an observation that may still move to another interval."""


class _AcdStart(NamedTuple):
    at_ms: int
    queue_id: str | None
    media_type: str


class _UserEnd(NamedTuple):
    at_ms: int
    queue_id: str
    media_type: str
    talk_and_held_ms: int


@dataclass(slots=True)
class _Session:
    """One ACD or agent session of a conversation, while it may still change or be duplicated.

    ``seen`` holds ``eventTime * 4 + kind code`` of every event applied: the session's part of
    the de-duplication identity, in one small int each.
    """

    seen: list[int]
    last_ms: int
    start: _AcdStart | None = None  # acd.start waiting for its acd.end
    end: ConversationEvent | None = None  # acd.end waiting for its acd.start
    user: _UserEnd | None = None  # user.end while its handle may still move
    acw: ConversationEvent | None = None  # acw waiting for its user.end
    handle: int = _NO_HANDLE
    scheduled: int = _UNSCHEDULED  # due time of its live entry in the deadline heap


@dataclass(slots=True)
class CorrelationCounts:
    """What the correlator did besides recording metrics; reported, never silently lost.

    Every count only grows. ``handle_at_user_end`` counts provisional handles placed at user.end,
    ``handle_moved_to_acw`` those of them a late acw moved.
    """

    duplicates: int = 0
    no_queue: int = 0
    acd_start_unmatched: int = 0
    acd_end_without_start: int = 0
    wait_over_limit: int = 0
    acw_without_user_end: int = 0
    acw_after_horizon: int = 0
    acw_repeated: int = 0
    handle_at_user_end: int = 0
    handle_moved_to_acw: int = 0
    negative_wait: int = 0
    evicted: int = 0
    unknown_outcome: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Correlator:
    """Stateful, pure event-to-observation translator over any number of conversations.

    ``correction_horizon_ms`` bounds how long after user.end a provisional handle may still be
    moved (the owner forgets intervals older than that); ``None`` means it always may. With
    ``follow_newest`` (offline) the watermark follows the newest event time correlated, minus
    ``reorder_tolerance_ms``; otherwise the owner moves it with :meth:`expire`.
    """

    config: KpiConfig
    recorder: Recorder
    counts: CorrelationCounts = field(default_factory=CorrelationCounts)
    correction_horizon_ms: int | None = None
    follow_newest: bool = False
    newest_ms: int = 0
    watermark_ms: int | None = None
    _sessions: dict[SessionKey, _Session] = field(default_factory=dict)
    _deadlines: list[tuple[int, SessionKey]] = field(default_factory=list)
    _sl_cache: dict[tuple[str, str], ServiceLevelTarget] = field(default_factory=dict)
    _pairing_ms: int = 0
    _dedupe_ms: int = 0
    _followed_ms: int = 0

    def __post_init__(self) -> None:
        self._pairing_ms = self.config.pairing_horizon_ms
        self._dedupe_ms = self.config.dedupe_horizon_ms

    def accept(self, event: ConversationEvent) -> bool:
        """Apply one event; False when it changed nothing (a duplicate, or a topic with no KPI).

        Only the four topics that carry KPIs are de-duplicated (and counted as duplicates): a
        repeated customer.start or flow.end cannot change a number, so remembering it is waste.
        """
        kind = event.kind
        if kind not in KPI_KINDS:
            return False
        at = event.event_time_ms
        mark = at * 4 + _KIND_CODE[kind]
        key = (event.conversation_id, event.session_id)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = _Session([mark], at)
            if len(self._sessions) > self.config.max_open_entries:
                self._evict_one()
        elif mark in session.seen:
            self.counts.duplicates += 1
            return False
        else:
            session.seen.append(mark)
            if at > session.last_ms:
                session.last_ms = at
        if kind is _ACD_START:
            self._acd_start(key, session, event)
        elif kind is _ACD_END:
            self._acd_end(key, session, event)
        elif kind is _USER_END:
            self._user_end(key, session, event)
        else:
            self._acw(key, session, event)
        if session.scheduled > session.last_ms + self._dedupe_ms:  # paired, or nothing to wait for:
            self._schedule(key, session)  # due when it may be forgotten, if nothing else is pending
        if at > self.newest_ms:
            self.newest_ms = at
            if self.follow_newest and at - self._followed_ms >= _FOLLOW_STEP_MS:
                self._followed_ms = at
                self.expire(at - self.config.reorder_tolerance_ms)
        return True

    # -- state as data ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """All correlation state as plain JSON-able data, for a changelogged table.

        ``counts``, caches, the watermark and the correction horizon are not state: they are
        reports or the owner's. ``from_state(state())`` behaves exactly like this instance.
        """
        conversations: dict[str, list[list[Any]]] = {}
        for (conversation, session_id), s in self._sessions.items():
            conversations.setdefault(conversation, []).append(
                [
                    session_id,
                    s.seen,
                    s.last_ms,
                    list(s.start) if s.start else None,
                    list(s.end) if s.end else None,
                    list(s.user) if s.user else None,
                    list(s.acw) if s.acw else None,
                    s.handle,
                ]
            )
        return {"newest": self.newest_ms, "conversations": conversations}

    @classmethod
    def from_state(
        cls,
        config: KpiConfig,
        recorder: Recorder,
        state: dict[str, Any],
        counts: CorrelationCounts | None = None,
        correction_horizon_ms: int | None = None,
        watermark_ms: int | None = None,
    ) -> Correlator:
        c = cls(config, recorder, counts or CorrelationCounts(), correction_horizon_ms)
        c.newest_ms, c.watermark_ms = state["newest"], watermark_ms
        for conversation, sessions in state["conversations"].items():
            for session_id, seen, last, start, end, user, acw, handle in sessions:
                session = _Session(
                    seen,
                    last,
                    _AcdStart(*start) if start else None,
                    _event(end) if end else None,
                    _UserEnd(*user) if user else None,
                    _event(acw) if acw else None,
                    handle,
                )
                key = (conversation, session_id)
                c._sessions[key] = session
                session.scheduled = c._due(session)
                c._deadlines.append((session.scheduled, key))
        heapq.heapify(c._deadlines)
        return c

    def next_deadline_ms(self) -> int | None:
        """The earliest watermark past which :meth:`expire` will change something, if any."""
        deadlines = self._deadlines
        while deadlines:
            due, key = deadlines[0]
            session = self._sessions.get(key)
            if session is not None and session.scheduled == due:
                return due
            heapq.heappop(deadlines)
        return None

    def forgettable(self) -> bool:
        """True when no session is remembered any more: pairing and de-duplication are done."""
        return not self._sessions

    @property
    def open_entries(self) -> int:
        return len(self._sessions)

    # -- ACD sessions -------------------------------------------------------------------------

    def _acd_start(self, key: SessionKey, session: _Session, event: ConversationEvent) -> None:
        queue = event.queue_id
        if queue is None:
            self.counts.no_queue += 1
        else:
            self.recorder.record(queue, event.media_type, m.N_OFFERED, 1, event.event_time_ms)
        start = _AcdStart(event.event_time_ms, queue, event.media_type)
        ended = session.end
        if ended is not None:
            session.end = None
            self._acd_outcome(start, ended)
        else:
            session.start = start
            limit = self.config.queue_wait_limit_ms(event.media_type)
            self._wait(key, session, start.at_ms + limit + self._pairing_ms)

    def _acd_end(self, key: SessionKey, session: _Session, event: ConversationEvent) -> None:
        start = session.start
        if start is None:
            session.end = event
            self._wait(key, session, event.event_time_ms + self._pairing_ms)
        else:
            session.start = None
            self._acd_outcome(start, event)

    def _acd_outcome(self, start: _AcdStart, end: ConversationEvent) -> None:
        queue = end.queue_id or start.queue_id
        if queue is None:
            self.counts.no_queue += 1
            return
        media = start.media_type if end.media_type == "unknown" else end.media_type
        at = end.event_time_ms
        wait = at - start.at_ms
        if wait > self.config.queue_wait_limit_ms(media):
            self.counts.wait_over_limit += 1
            return
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

    def _user_end(self, key: SessionKey, session: _Session, event: ConversationEvent) -> None:
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
        user = _UserEnd(at, queue, media, talk + held)
        acw = session.acw
        if acw is None:
            session.user = user
            self._wait(key, session, at + self.config.acw_grace_ms)
            return
        session.acw = None
        if acw.queue_id is None:
            record(queue, media, m.T_ACW, acw.wrapup_ms or 0, acw.event_time_ms)
        self._handle_at_acw(session, user, acw)

    def _acw(self, key: SessionKey, session: _Session, event: ConversationEvent) -> None:
        user = session.user
        queue = event.queue_id or (user.queue_id if user else None)
        if queue is not None:
            media = user.media_type if user and event.media_type == "unknown" else event.media_type
            self.recorder.record(queue, media, m.T_ACW, event.wrapup_ms or 0, event.event_time_ms)
        handle = session.handle
        if handle == _AT_ACW:
            self.counts.acw_repeated += 1
        elif handle == _AT_USER_END:
            self.counts.acw_after_horizon += 1
            self.counts.no_queue += queue is None
        elif user is None:
            if session.acw is None:
                session.acw = event
                self._wait(key, session, event.event_time_ms + self._pairing_ms)
            else:
                self.counts.acw_repeated += 1
        elif handle == _NO_HANDLE:
            self._handle_at_acw(session, user, event)
        elif self._correctable(user.at_ms):
            if user.talk_and_held_ms > 0:
                self.recorder.record_provisional(
                    user.queue_id, user.media_type, m.T_HANDLE, user.talk_and_held_ms, user.at_ms, -1
                )
            self.counts.handle_moved_to_acw += 1
            self._handle_at_acw(session, user, event)
        else:
            self.counts.acw_after_horizon += 1
            session.user, session.handle = None, _AT_USER_END

    def _handle_at_acw(self, session: _Session, user: _UserEnd, acw: ConversationEvent) -> None:
        """The session's tHandle, once its acw is known (tAcw itself is recorded by the caller)."""
        total = user.talk_and_held_ms + (acw.wrapup_ms or 0)
        queue = acw.queue_id or user.queue_id
        media = user.media_type if acw.media_type == "unknown" else acw.media_type
        self.recorder.record(queue, media, m.T_HANDLE, total, acw.event_time_ms)
        session.user, session.handle = None, _AT_ACW

    def _correctable(self, at_ms: int) -> bool:
        horizon, watermark = self.correction_horizon_ms, self.watermark_ms
        return horizon is None or watermark is None or watermark < at_ms + horizon

    # -- expiry -------------------------------------------------------------------------------

    def _due(self, s: _Session) -> int:
        """The watermark past which this session changes next (pairs give up, or it is forgotten)."""
        cfg = self.config
        horizon = cfg.pairing_horizon_ms
        due = _FOREVER
        if s.start is not None:
            due = s.start.at_ms + cfg.queue_wait_limit_ms(s.start.media_type) + horizon
        if s.end is not None:
            due = min(due, s.end.event_time_ms + horizon)
        if s.user is not None:
            grace = cfg.acw_grace_ms if s.handle == _NO_HANDLE else horizon
            due = min(due, s.user.at_ms + grace)
        if s.acw is not None:
            due = min(due, s.acw.event_time_ms + horizon)
        if due == _FOREVER:
            due = s.last_ms + cfg.dedupe_horizon_ms
        return due

    def _schedule(self, key: SessionKey, session: _Session) -> None:
        self._wait(key, session, self._due(session))

    def _wait(self, key: SessionKey, session: _Session, due: int) -> None:
        """Keep one live heap entry per session, at or before its due time (a later one is found
        when the earlier entry comes up), so the heap stays about as large as the session map.
        Only a half starting to wait can make a session due earlier; pairing makes it later."""
        if due < session.scheduled:
            session.scheduled = due
            heapq.heappush(self._deadlines, (due, key))

    def expire(self, watermark_ms: int) -> None:
        """Settle every session whose deadline is before ``watermark_ms`` (event time)."""
        if self.watermark_ms is None or watermark_ms > self.watermark_ms:
            self.watermark_ms = watermark_ms
        watermark = self.watermark_ms
        deadlines, sessions = self._deadlines, self._sessions
        while deadlines and deadlines[0][0] < watermark:
            due, key = heapq.heappop(deadlines)
            session = sessions.get(key)
            if session is None or session.scheduled != due:
                continue  # stale: the session was rescheduled earlier, or is gone
            self._settle(key, session, watermark)

    def flush(self) -> None:
        """End of input: settle every session as if the watermark had passed it, and forget all.

        Sessions are independent, so the pending ones are settled in any order, without the heap.
        """
        self.watermark_ms = _FOREVER
        for key, s in self._sessions.items():
            if s.start is not None or s.end is not None or s.user is not None or s.acw is not None:
                self._settle(key, s, _FOREVER, forget=False)
        self._sessions.clear()
        self._deadlines.clear()

    def _settle(self, key: SessionKey, s: _Session, watermark: int, forget: bool = True) -> None:
        cfg, counts = self.config, self.counts
        horizon = cfg.pairing_horizon_ms
        if (
            s.start is not None
            and s.start.at_ms + cfg.queue_wait_limit_ms(s.start.media_type) + horizon < watermark
        ):
            counts.acd_start_unmatched += 1
            s.start = None
        if s.end is not None and s.end.event_time_ms + horizon < watermark:
            counts.acd_end_without_start += 1
            s.end = None
        if s.acw is not None and s.acw.event_time_ms + horizon < watermark:
            counts.acw_without_user_end += 1
            counts.no_queue += s.acw.queue_id is None
            s.acw = None
        user = s.user
        if user is not None and s.handle == _NO_HANDLE and user.at_ms + cfg.acw_grace_ms < watermark:
            if user.talk_and_held_ms > 0:
                self.recorder.record_provisional(
                    user.queue_id, user.media_type, m.T_HANDLE, user.talk_and_held_ms, user.at_ms, 1
                )
            counts.handle_at_user_end += 1
            s.handle = _PROVISIONAL
        if user is not None and s.handle == _PROVISIONAL and user.at_ms + horizon < watermark:
            s.user, s.handle = None, _AT_USER_END
        if not forget:
            return
        if (
            s.start is None
            and s.end is None
            and s.user is None
            and s.acw is None
            and s.last_ms + cfg.dedupe_horizon_ms < watermark
        ):
            del self._sessions[key]
            return
        s.scheduled = _UNSCHEDULED
        self._schedule(key, s)

    def _evict_one(self) -> None:
        """Over ``max_open_entries``: drop the session due first, and say so."""
        while self._deadlines:
            due, key = heapq.heappop(self._deadlines)
            session = self._sessions.get(key)
            if session is not None and session.scheduled == due:
                del self._sessions[key]
                self.counts.evicted += 1
                return


def _event(fields: list[Any]) -> ConversationEvent:
    return ConversationEvent(EventKind(fields[0]), *fields[1:])
