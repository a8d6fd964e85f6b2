"""The SQLite store: registry, ledger of files, employees with their full history."""

from .db import connect

__all__ = ["connect"]
