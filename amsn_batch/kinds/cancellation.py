"""Cancellation requests from members (vocabulary `annulation`): an appointment id, or an employee and the
appointment's day; accepted when received at least 3 working days ahead (appointments.requests)."""

from __future__ import annotations

from ..appointments.requests import CANCEL
from .visit_request import Request

CANCELLATION = Request(CANCEL, frozenset({"rdv_annule", "motif", "date_rdv"}))
