"""What every reader shares: the error a file that cannot be read raises, and the magic numbers of workbooks.
The bottom of read/: the CSV reader (table) and the workbook readers (excel, guard) all import it."""

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"


class UnreadableFile(Exception):
    """The file cannot be read as a table; the message is French and says what to do."""
