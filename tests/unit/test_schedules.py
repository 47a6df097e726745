"""The daily 09:00 America/Chicago schedule, across daylight-saving changes."""

from datetime import UTC, datetime, time
from itertools import pairwise

import pytest

from blueprint_harness.guide.schedules import daily_occurrences, local_times, same_cron

pytestmark = pytest.mark.unit

CHICAGO = "America/Chicago"


def test_nine_in_chicago_is_15_utc_in_winter_and_14_utc_in_summer():
    winter = daily_occurrences(datetime(2026, 1, 15, tzinfo=UTC), time(9), CHICAGO, 1)[0]
    summer = daily_occurrences(datetime(2026, 7, 15, tzinfo=UTC), time(9), CHICAGO, 1)[0]

    assert winter.astimezone(UTC).hour == 15
    assert summer.astimezone(UTC).hour == 14


def test_occurrences_keep_the_wall_clock_time_across_the_spring_change():
    days = daily_occurrences(datetime(2026, 3, 7, 20, tzinfo=UTC), time(9), CHICAGO, 3)

    assert [d.astimezone(UTC).hour for d in days] == [15, 14, 14]
    assert {(d.hour, d.minute) for d in local_times(days, CHICAGO)} == {(9, 0)}
    assert [(b - a).total_seconds() / 3600 for a, b in pairwise(days)] == [23, 24]


def test_a_run_at_9_utc_is_not_9_in_chicago():
    assert local_times([datetime(2026, 1, 15, 9, tzinfo=UTC)], CHICAGO)[0].hour == 3


@pytest.mark.parametrize(
    "spelling",
    ["0 9 * * *", "00 09 * * *", "0 9 * * 0-6", "0 9 */1 * *", "0 9 ? * *", "0 9 * * MON-SUN"],
)
def test_the_same_cron_in_other_spellings_is_the_same_schedule(spelling):
    assert same_cron(spelling, "0 9 * * *")


@pytest.mark.parametrize("other", ["0 10 * * *", "5 9 * * *", "0 9 * * 1-5", "0 9 1 * *", "x"])
def test_a_different_cron_is_not(other):
    assert not same_cron(other, "0 9 * * *")
