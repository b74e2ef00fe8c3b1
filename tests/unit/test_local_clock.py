"""The local stack's clock: real time plus an offset that only moves forward, installed as the engine's time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from automations.domain import clock as engine_clock
from devstack.clock import ClockError, ClockReading, LocalClock

T0 = datetime(2027, 3, 26, 7, 0, tzinfo=UTC)


class Wall:
    """A machine clock the test moves by hand."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def restore_engine_clock() -> Iterator[None]:
    yield
    engine_clock.use_source(None)


def test_left_alone_it_runs_at_real_time(wall: Wall) -> None:
    local = LocalClock(wall=wall)
    assert local.now() == T0
    wall.at += timedelta(seconds=5)
    assert local.now() == T0 + timedelta(seconds=5)


def test_advance_moves_it_forward_and_time_goes_on_from_there(wall: Wall) -> None:
    local = LocalClock(wall=wall)
    assert local.advance(timedelta(hours=24)) == T0 + timedelta(days=1)
    wall.at += timedelta(seconds=1)
    assert local.now() == T0 + timedelta(days=1, seconds=1)
    assert local.offset == timedelta(days=1)


def test_set_jumps_to_a_later_time(wall: Wall) -> None:
    local = LocalClock(wall=wall)
    target = datetime(2027, 3, 29, 7, 0, 30, tzinfo=UTC)
    assert local.set(target) == target
    assert local.now() == target


def test_set_takes_any_zone_and_answers_utc(wall: Wall) -> None:
    local = LocalClock(wall=wall)
    berlin = datetime.fromisoformat("2027-03-26T10:00:00+01:00")
    assert local.set(berlin) == datetime(2027, 3, 26, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "move",
    [
        lambda c: c.advance(timedelta(seconds=-1)),
        lambda c: c.set(T0 - timedelta(microseconds=1)),
        lambda c: c.set(datetime(2027, 3, 27, 0, 0)),  # no time zone: ambiguous
    ],
)
def test_it_never_goes_backwards_and_a_refused_move_changes_nothing(wall: Wall, move) -> None:
    local = LocalClock(wall=wall)
    local.advance(timedelta(minutes=1))
    with pytest.raises(ClockError):
        move(local)
    assert local.now() == T0 + timedelta(minutes=1)


def test_set_to_now_itself_is_allowed(wall: Wall) -> None:
    local = LocalClock(wall=wall)
    assert local.set(T0) == T0


def test_installed_every_engine_now_follows_it(wall: Wall, restore_engine_clock: None) -> None:
    local = LocalClock(wall=wall)
    local.install()
    local.advance(timedelta(days=2))
    assert engine_clock.now() == T0 + timedelta(days=2)
    assert engine_clock.iso(engine_clock.now()) == "2027-03-28T07:00:00.000Z"


def test_uninstalled_the_engine_reads_the_system_clock_again(wall: Wall) -> None:
    LocalClock(offset=timedelta(days=400), wall=wall).install()
    engine_clock.use_source(None)
    assert abs(engine_clock.now() - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_restarted_clock_keeps_its_offset_so_the_downtime_passes(wall: Wall) -> None:
    before = LocalClock(wall=wall)
    before.advance(timedelta(days=1))
    saved = before.reading()
    wall.at += timedelta(hours=1)  # the stack was down an hour
    after = LocalClock.resume(saved, wall=wall)
    assert after.now() == T0 + timedelta(days=1, hours=1)


def test_a_restarted_clock_never_reads_earlier_than_it_did_even_if_the_machine_went_back(wall: Wall) -> None:
    saved = ClockReading(offset=timedelta(0), now=T0)
    wall.at = T0 - timedelta(minutes=10)  # the machine's own clock was set back meanwhile
    assert LocalClock.resume(saved, wall=wall).now() == T0


def test_nothing_kept_is_real_time(wall: Wall) -> None:
    assert LocalClock.resume(None, wall=wall).now() == T0


def test_a_negative_offset_is_refused() -> None:
    with pytest.raises(ClockError):
        LocalClock(offset=timedelta(seconds=-1))
