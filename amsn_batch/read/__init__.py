"""Readers: a CSV or spreadsheet file → a Table of text cells with the file's own line numbers."""

from .table import Table, UnreadableFile, read_table

__all__ = ["Table", "UnreadableFile", "read_table"]
