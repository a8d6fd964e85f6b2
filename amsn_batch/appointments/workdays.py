"""Working days (jours ouvrés: Monday to Friday, public holidays excluded) and the cancellation deadline.

Holidays come from the maintained `holidays` library: France's national days, plus Good Friday and
26 December for a centre in Alsace-Moselle (départements 57, 67, 68: the library's subdivisions « 57 » and
« 6AE », mapped in schemas/rendez_vous.toml [jours_feries.subdivisions])."""

from __future__ import annotations

import datetime as dt
from functools import cache

import holidays

from ..vocab import load_toml


@cache
def _calendar(departement: str) -> holidays.HolidayBase:
    subdiv = load_toml("rendez_vous.toml")["jours_feries"]["subdivisions"].get(departement)
    return holidays.France(subdiv=subdiv) if subdiv else holidays.France()


def is_working_day(day: dt.date, departement: str = "") -> bool:
    return day.weekday() < 5 and day not in _calendar(departement)


def deadline(appointment_day: dt.date, working_days: int, departement: str = "") -> dt.date:
    """The last day a cancellation is accepted: `working_days` working days before the appointment's day
    (that day not counted): with 3, a Friday appointment may be cancelled until the Tuesday before."""
    day, left = appointment_day, working_days
    while left:
        day -= dt.timedelta(days=1)
        if is_working_day(day, departement):
            left -= 1
    return day
