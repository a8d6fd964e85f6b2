"""The SQLite store: registry, ledger of files, employees with their full history.

Every SQL statement of the product lives in this package; callers get and give dataclasses."""

from .db import Connection, StoreError, connect, serialize_writes, take_sender, transaction

__all__ = ["Connection", "StoreError", "connect", "serialize_writes", "take_sender", "transaction"]
