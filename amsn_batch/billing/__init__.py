"""Billing: annual headcount declarations → invoices and credit notes → payment schedule, documents.

One module per stage: `declarations` (campaign window, statuses, pre-filled files, the store side of the
declaration checks), `invoices` (amounts, numbering, facture d'office, credit notes), `balances` (what settles
each invoice, what is due, the member's credit, lettering: the one balance every document shows), `schedule`
(échéancier, payments, disputes), `facturx` (CII XML), `documents` (PDF, lists), `journal` (accounting: CSV
journal, FEC, credits to refund); `service` gives one function per command of `amsn-batch`.
"""

import importlib

from .errors import BillingError

__all__ = ["BillingError", "service"]


def __getattr__(name: str):
    """`billing.service` is imported on first use: it pulls pandas, pyarrow and the store, which would add
    seconds to every `amsn-batch --help` if cli.py imported it with the package."""
    if name == "service":
        return importlib.import_module(".service", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
