"""Billing: annual headcount declarations → invoices and credit notes → payment schedule, documents.

One module per stage: `declarations` (files received, window, statuses),
`invoices` (amounts, numbering, facture d'office, credit notes), `schedule` (échéancier, payments,
disputes), `facturx` (CII XML), `documents` (PDF, lists, journal).
"""
