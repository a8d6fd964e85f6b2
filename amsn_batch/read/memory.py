"""Memory a big file's stage has freed, given back to the system before the next stage.

Arrow's buffers come from the C library's allocator, like numpy's arrays: pyarrow's default pool (mimalloc)
keeps what its reader threads freed in per-thread heaps that nothing gives back, some 60 to 90 MB more at the
peak of a million-row file than the C allocator (measured in the scale bench, at no cost in time). A
deployment may still choose its pool with ARROW_DEFAULT_MEMORY_POOL. The C allocator itself keeps the
blocks of numpy arrays freed below the top of its heap: after reading or checking a million-row file that
is some hundreds of MB that the process would still hold while it writes the store and a second process
writes the correction workbook. `give_back` returns them, in a few milliseconds.
"""

from __future__ import annotations

import ctypes
import os

import pyarrow as pa

if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    pa.set_memory_pool(pa.system_memory_pool())


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
