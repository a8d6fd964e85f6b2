"""The error of billing: a request that cannot be carried out, with a French message for the operator."""


class BillingError(Exception):
    """A billing request that cannot be carried out; the message is French."""
