"""Appointments (issue 15, docs/rendez-vous.md): the planning of the service's medical software imported with
its history (planning), written back to members as CSV, XLSX and iCalendar (calendar), members' visit and
cancellation requests with the 3-working-day rule (requests, workdays), and the visits due (due).

Settings: schemas/rendez_vous.toml, overridden by the settings file's [rendez_vous] table (setup)."""
