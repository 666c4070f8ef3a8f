"""Which offsets may be committed, and each profile's own position: exact, never one past the
first unfinished record."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamvane.sinks.offsets import OffsetTracker
from streamvane.sinks.progress import Head, ProfileProgress


def test_the_commit_stops_at_the_first_unfinished_record() -> None:
    tracker = OffsetTracker()
    for offset in range(5):
        tracker.started(0, offset)
    for offset in (0, 1, 3):
        tracker.finished(0, offset)
    assert tracker.committable() == {0: 2}, "2 is unfinished: a restart must read it again"
    assert tracker.committable() == {}, "nothing moved since"
    tracker.finished(0, 2)
    assert tracker.committable() == {0: 4}
    tracker.finished(0, 4)
    assert tracker.committable() == {0: 5}
    assert tracker.in_flight == 0


@given(st.permutations(list(range(12))), st.integers(0, 12))
def test_the_committed_offset_never_passes_an_unfinished_record(order: list[int], done: int) -> None:
    tracker = OffsetTracker()
    for offset in range(12):
        tracker.started(3, offset)
    finished = set(order[:done])
    for offset in order[:done]:
        tracker.finished(3, offset)
    committed = tracker.committable().get(3, 0)
    first_unfinished = min(set(range(12)) - finished, default=12)
    assert committed == first_unfinished


def test_a_profiles_position_moves_only_over_its_own_finished_records() -> None:
    progress = ProfileProgress()
    for offset in (1, 4, 6):
        progress.started(0, offset)
    assert not progress.finished(0, 4), "1 is not finished yet"
    assert progress.finished(0, 1)
    assert progress.next == {0: 6}
    assert progress.done_before(0, 4) and not progress.done_before(0, 6)


def test_the_head_keeps_its_attempts_across_a_restart_until_it_finishes() -> None:
    progress = ProfileProgress()
    progress.started(0, 9)
    progress.attempt(0, 9, 3)
    again = ProfileProgress.decode(progress.encode())
    assert (
        again.head == Head(0, 9, 3) and again.prior_attempts(0, 9) == 3 and again.prior_attempts(0, 10) == 0
    )
    again.started(0, 9)
    again.finished(0, 9)
    assert again.head is None and again.next == {0: 10}
    assert ProfileProgress.decode(again.encode()).next == {0: 10}
