"""Memory a big file's stage has freed, given back to the system before the next stage.

Arrow's pool keeps the pages its reader threads freed, and the C library's allocator keeps the blocks of
numpy arrays freed below the top of its heap: after reading or checking a million-row file that is some
hundreds of MB the process still holds while it writes the store and a second process writes the correction
workbook. Giving them back takes a few milliseconds.
"""

from __future__ import annotations

import ctypes

import pyarrow as pa


def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return the freed memory of Arrow's pool and of the C allocator to the system."""
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)
