"""When the correlate agent seeks a keyed partition back to a record the consumer skipped."""

from __future__ import annotations

from streamvane.agents.rereads import Rereads


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_a_gap_seeks_once_while_the_records_fetched_before_the_seek_arrive() -> None:
    rereads = Rereads(Clock(), patience_s=10)
    assert rereads.should_seek(0, gap_from=40, first_offset=41, last_offset=60)
    assert not rereads.should_seek(0, gap_from=40, first_offset=61, last_offset=80)
    assert not rereads.should_seek(0, gap_from=40, first_offset=81, last_offset=90)


def test_a_seek_undone_by_a_rebalance_seeks_again() -> None:
    """The rebalance seeked the partition to its committed offset 50, past the gap at 40 and
    before the offsets delivered since the seek was asked for."""
    rereads = Rereads(Clock(), patience_s=10)
    assert rereads.should_seek(0, gap_from=40, first_offset=41, last_offset=60)
    assert not rereads.should_seek(0, gap_from=40, first_offset=61, last_offset=80)
    assert rereads.should_seek(0, gap_from=40, first_offset=50, last_offset=70)


def test_a_gap_that_outlasts_the_patience_seeks_again() -> None:
    """Committed right after the last delivered offset, the undone seek looks like records still
    arriving: the patience bounds it."""
    clock = Clock()
    rereads = Rereads(clock, patience_s=10)
    assert rereads.should_seek(0, gap_from=40, first_offset=41, last_offset=60)
    clock.now_s += 9.9
    assert not rereads.should_seek(0, gap_from=40, first_offset=61, last_offset=80)
    clock.now_s += 0.1
    assert rereads.should_seek(0, gap_from=40, first_offset=81, last_offset=90)
    assert not rereads.should_seek(0, gap_from=40, first_offset=91, last_offset=95)


def test_a_new_gap_or_a_cleared_partition_seeks_and_partitions_are_apart() -> None:
    rereads = Rereads(Clock(), patience_s=10)
    assert rereads.should_seek(0, gap_from=40, first_offset=41, last_offset=60)
    assert rereads.should_seek(1, gap_from=40, first_offset=41, last_offset=60)
    assert rereads.should_seek(0, gap_from=70, first_offset=71, last_offset=75)
    rereads.clear(0)
    assert rereads.should_seek(0, gap_from=70, first_offset=76, last_offset=80)
