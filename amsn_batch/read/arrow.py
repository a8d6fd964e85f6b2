"""Raw access to Arrow text columns, for screens that a byte scan answers faster than a per-value kernel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def arrow_strings(values) -> pa.Array | None:
    """The Arrow string array behind a pandas text column (a Series or its array), without copy; None when
    the column is not held by Arrow."""
    array = values.array if isinstance(values, pd.Series) else values
    return pa.array(array) if isinstance(array, pd.arrays.ArrowStringArray) else None


def string_chunks(values) -> list[pa.Array]:
    """The Arrow string arrays behind a pandas text column; [] when the column is not held by Arrow."""
    arr = arrow_strings(values)
    if arr is None:
        return []
    return arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of an Arrow string array, viewed without copy: value i is bytes[offsets[i]:offsets[i+1]]."""
    item = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=item, count=len(arr) + 1, offset=arr.offset * np.dtype(item).itemsize)
    data = arr.buffers()[2]
    return offsets, (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8))


def byte_set(values) -> np.ndarray:
    """A 256-entry mask of these byte values, for `holds_any`."""
    mask = np.zeros(256, dtype=bool)
    mask[list(values)] = True
    return mask


def holds_any(arr: pa.Array, wanted: np.ndarray) -> bool:
    """Whether some value of an Arrow string array holds one of the bytes of `wanted` (see byte_set)."""
    offsets, data = string_buffers(arr)
    return bool(len(arr)) and bool(wanted[data[offsets[0]:offsets[-1]]].any())
