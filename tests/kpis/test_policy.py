"""The SLA policy file: shipped defaults load, bad files are rejected naming the line and field,
and the compiled business calendar agrees with a day-by-day count written independently."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from kpis.policy import Calendar, PolicyError, calendar_table, load_policy, parse_duration, parse_policy

GOOD = """
version: 1
calendars:
  office: {timezone: America/Chicago, holidays: [2026-11-26]}
slas:
  - name: capture_to_ship
    start: capture.start
    end: ship.end
    target: 48h
"""


def test_shipped_policy_loads_with_stage_and_end_to_end_slas() -> None:
    policy = load_policy()
    names = {s.name for s in policy.slas}
    assert {"capture_to_ship", "capture_to_invoice", "credit_check", "release_to_ship"} <= names
    assert policy.sla("capture_to_ship").kind == "end_to_end"
    assert policy.sla("credit_check").clock == "business"
    assert policy.calendars["warehouse"].cutoff == "15:00"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD.replace("target: 48h", "target: soon"), 9, ["slas.0.target", "duration 'soon'"]),
        (GOOD.replace("end: ship.end", "end: ship"), 8, ["slas.0.end", "'<stage>.start' or '<stage>.end'"]),
        (GOOD.replace("version: 1", "version: 1\nretention: 3"), 3, ["retention", "unknown field"]),
        (
            GOOD.replace("America/Chicago", "Mars/Olympus"),
            4,
            ["calendars.office.timezone", "unknown time zone"],
        ),
        (
            GOOD.replace("    target: 48h", "    target: 48h\n    clock: business\n    calendar: shop"),
            11,
            ["slas.0.calendar", "calendar 'shop' is not defined"],
        ),
        ("slas: [\n  {name: x", 2, ["not valid YAML"]),
        ("- just\n- a list\n", 1, ["must be a mapping"]),
    ],
)
def test_bad_policy_is_rejected_naming_line_and_field(text: str, line: int, words: list[str]) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policy.yaml")
    message = str(caught.value)
    assert f"policy.yaml line {line}" in message
    for word in words:
        assert word in message


def test_a_policy_whose_slas_name_more_stages_than_the_jobs_can_track_is_refused_at_load() -> None:
    """The KPI jobs keep the stages an order reached as bits of one number: 63 SLA stages load, a
    64th is refused when the policy is read (not hours later, when the jobs run)."""

    def slas(stages: int) -> str:
        edges = [f"s{n}" for n in range(stages)]
        return "version: 1\nperfect_order: {on_time_sla: sla0}\nslas:\n" + "".join(
            f"  - {{name: sla{n}, start: {a}.start, end: {b}.end, target: 1h}}\n"
            for n, (a, b) in enumerate(zip(edges[::2], edges[1::2], strict=True))
        )

    assert (
        len(parse_policy(slas(62) + "  - {name: last, start: s0.start, end: s62.end, target: 1h}\n").slas)
        == 32
    )
    with pytest.raises(PolicyError, match="name 64 stages; at most 63 are supported"):
        parse_policy(slas(64), "policy.yaml")


def test_bad_policy_file_on_disk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.yaml"
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(missing)
    bad = tmp_path / "p.yaml"
    bad.write_text(GOOD.replace("48h", "-3h"))
    with pytest.raises(PolicyError, match=r"p.yaml line 9: slas.0.target"):
        load_policy(bad)


def test_durations() -> None:
    assert parse_duration("1d 4h") == 28 * 3600
    assert parse_duration("45m") == 2700
    assert parse_duration(90) == 90
    for bad in ("", "0h", "4 hours", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


def _business_seconds(cal: Calendar, start: datetime, end: datetime) -> float:
    """Independent count: walk local days, add the overlap of [start, end] with each day's hours."""
    zone = ZoneInfo(cal.timezone)
    total = 0.0
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        span = cal.working_hours.get(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()])
        if span and day not in cal.holidays:
            a, b = (time.fromisoformat(x) for x in span.split("-"))
            lo = max(start, datetime.combine(day, a, zone))
            hi = min(end, datetime.combine(day, b, zone))
            total += max((hi - lo).total_seconds(), 0.0)
        day += timedelta(days=1)
    return total


def test_calendar_table_matches_day_by_day_count_across_weekend_holiday_and_dst() -> None:
    cal = Calendar(
        timezone="America/Chicago",
        working_hours={
            "mon": "08:00-18:00",
            "tue": "08:00-18:00",
            "wed": "08:00-18:00",
            "thu": "08:00-18:00",
            "fri": "08:00-18:00",
            "sat": "09:00-13:00",
        },
        holidays=[date(2026, 11, 26), date(2026, 3, 9)],
    )
    table = calendar_table(cal, date(2026, 2, 20), date(2026, 12, 31))
    base = datetime(2026, 3, 5, 15, 7, tzinfo=UTC)  # DST starts 2026-03-08 in Chicago
    moments = [base + timedelta(hours=7 * i + 0.37 * i) for i in range(60)]
    moments += [datetime(2026, 11, 25, 23, 59, tzinfo=UTC) + timedelta(hours=5 * i) for i in range(20)]
    for a in moments:
        for b in moments:
            if b <= a:
                continue
            got = (
                table.business_ms(int(b.timestamp() * 1000)) - table.business_ms(int(a.timestamp() * 1000))
            ) / 1000
            assert got == pytest.approx(_business_seconds(cal, a, b)), (a, b)
