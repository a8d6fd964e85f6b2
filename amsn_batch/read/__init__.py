"""Readers: a CSV or spreadsheet file → a Table of text cells with the file's own line numbers."""

from .errors import UnreadableFile
from .table import Table, forget_tables, read_table

__all__ = ["Table", "UnreadableFile", "forget_tables", "read_table"]
