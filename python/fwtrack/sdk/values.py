"""Conversion of logged values the Rust core does not take as they are, and warnings.

`convert(key, value)` is the `converter` callback of `_core.RunWriter`: Rust calls it only for
values that are not a float, int, bool, str or dict, so the common case never comes here.
Handlers are cached per type; numpy and torch are never imported here just to recognise a value
(a numpy object or a tensor cannot exist before its module is in `sys.modules`, so
`import fwtrack` stays free of both), and no lock is taken, so the log path stays safe in a
forked child.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fwtrack import _core
from fwtrack.data_types.histogram import (
    Histogram,
    histogram_of_tensor,
    is_tensor,
    prepare_array,
)
from fwtrack.errors import FwTrackWarning

if TYPE_CHECKING:
    import numpy as np

    from fwtrack.sdk.media_worker import MediaWorker

__all__ = [
    "DEFAULT_NUM_BINS",
    "convert",
    "jsonable",
    "media_converter",
    "record_fields",
    "user_stacklevel",
    "warn",
]

DEFAULT_NUM_BINS = 64

_Handler = Callable[[str, Any], Any]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def user_stacklevel() -> int:
    """The `stacklevel` that points a warning at the first frame outside fwtrack."""
    try:
        frame = sys._getframe(2)  # the caller of the function that calls us
    except ValueError:
        return 1
    level = 3
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level - 1


def warn(message: str) -> None:
    """The `warn` callback of `_core.RunWriter`: one `FwTrackWarning` at the user's line."""
    warnings.warn(message, FwTrackWarning, stacklevel=user_stacklevel())


def _type_name(value: object) -> str:
    t = type(value)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _unsupported(key: str, value: object, fix: str) -> TypeError:
    return TypeError(
        f"cannot log {key!r}: a value of type {_type_name(value)} is not supported; {fix}"
    )


_GENERIC_FIX = (
    "log an int, float, bool, str, None, a dict, a numpy/torch array (as a histogram) "
    "or a fwtrack.Histogram, e.g. float(value)"
)


def _none(key: str, value: Any) -> None:
    return None


def _histogram(key: str, value: Histogram) -> _core.Histogram:
    return value._inner


def _core_histogram(key: str, value: _core.Histogram) -> _core.Histogram:
    return value


def _np_bool(key: str, value: Any) -> bool:
    return bool(value)


def _np_int(key: str, value: Any) -> int:
    return int(value)


def _np_float(key: str, value: Any) -> float:
    return float(value)


def _np_str(key: str, value: Any) -> str:
    return str(value)


def _np_generic(key: str, value: np.generic) -> _Handler:
    import numpy as np

    if isinstance(value, np.bool_):
        return _np_bool
    if isinstance(value, np.integer):
        return _np_int
    if isinstance(value, np.floating):
        return _np_float
    if isinstance(value, np.str_):
        return _np_str
    if isinstance(value, np.complexfloating):
        raise _unsupported(key, value, "log its parts, e.g. {'z/re': z.real, 'z/im': z.imag}")
    raise _unsupported(key, value, _GENERIC_FIX)


def _array(key: str, value: np.ndarray[Any, Any]) -> Any:
    if value.size == 1:
        return convert(key, value.reshape(-1)[0])
    if value.size == 0:
        raise ValueError(f"cannot log {key!r}: the numpy array is empty")
    return _core.histogram(prepare_array(value, f"cannot log {key!r}"), DEFAULT_NUM_BINS)


def _tensor(key: str, value: Any) -> Any:
    n = value.numel()
    if n == 1:
        if value.is_complex():
            raise _unsupported(key, value, "log its parts, e.g. z.real and z.imag")
        return value.item()
    if n == 0:
        raise ValueError(f"cannot log {key!r}: the tensor is empty")
    try:
        return histogram_of_tensor(value, DEFAULT_NUM_BINS)
    except TypeError as e:
        raise TypeError(f"cannot log {key!r}: {e}") from None


def _integral(key: str, value: Any) -> int:
    return int(value)


def _real(key: str, value: Any) -> float:
    return float(value)


def _handler_for(key: str, value: Any) -> _Handler:
    if value is None:
        return _none
    if isinstance(value, Histogram):
        return _histogram
    if isinstance(value, _core.Histogram):
        return _core_histogram
    np = sys.modules.get("numpy")  # without numpy imported, no value is a numpy object
    if np is not None:
        if isinstance(value, np.generic):
            return _np_generic(key, value)
        if isinstance(value, np.ndarray):
            return _array
    if is_tensor(value):
        return _tensor
    if isinstance(value, numbers.Integral):
        return _integral
    if isinstance(value, numbers.Real):
        return _real
    if isinstance(value, Mapping):
        raise _unsupported(key, value, "pass a dict, e.g. dict(value)")
    if isinstance(value, list | tuple | set | frozenset):
        raise _unsupported(
            key,
            value,
            "log each element under its own key, or np.asarray(value) for a histogram",
        )
    raise _unsupported(key, value, _GENERIC_FIX)


_HANDLERS: dict[type, _Handler] = {type(None): _none}


def convert(key: str, value: Any) -> Any:
    """The `converter` callback: a float/int/bool/str, a `_core.Histogram` or None (left out).

    Numpy scalars become Python scalars, one-element arrays and tensors their element
    (`.item()`), bigger ones a 64-bin histogram. Raises TypeError naming the key and the type
    for anything else.
    """
    handler = _HANDLERS.get(type(value))
    if handler is None:
        handler = _handler_for(key, value)
        _HANDLERS[type(value)] = handler
    return handler(key, value)


def _is_media(value: object) -> bool:
    """Whether `value` is a fwtrack media object (Image, Audio, Video, Html, Table)."""
    return callable(getattr(type(value), "_store", None))


def media_converter(worker: MediaWorker) -> _Handler:
    """The `converter` of a run whose media `worker` stores the payloads: a media object, or a
    non-empty list/tuple of them (a gallery), is queued on the worker and handed to the
    writer as a `_core.PendingMedia` (its record waits in its place until the payload is
    written); anything else goes to `convert`. The calling thread neither encodes nor hashes.

    A payload that cannot be written (full disk, permissions) leaves the value out with one
    warning per run (see `fwtrack.sdk.media_worker`): the training goes on, and what was
    logged before is kept.
    """

    def converter(key: str, value: Any) -> Any:
        handler = _HANDLERS.get(type(value))  # numpy scalars, arrays, tensors: as `convert`
        if handler is not None:
            return handler(key, value)
        if _is_media(value) or (
            type(value) in (list, tuple) and value and all(_is_media(v) for v in value)
        ):
            return worker.submit(key, value)
        return convert(key, value)

    return converter


def jsonable(value: Any, path: str, unserializable: list[str], *, finite: bool = True) -> Any:
    """`value` as plain JSON data (dict with str keys, list, str, int, float, bool, None).

    Numpy scalars and arrays, tensors, `argparse.Namespace`, dataclasses and paths are
    converted; anything else is replaced by its `repr` and its dotted `path` is appended to
    `unserializable`. With `finite`, NaN and +/-Inf count as unserializable too (JSON has
    no spelling for them).
    """
    t = type(value)
    if value is None or t is str or t is bool or t is int:
        return value
    if isinstance(value, float):
        if finite and not math.isfinite(value):
            unserializable.append(path)
            return repr(float(value))
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {
            str(k): jsonable(v, f"{path}.{k}" if path else str(k), unserializable, finite=finite)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            jsonable(v, f"{path}[{i}]", unserializable, finite=finite) for i, v in enumerate(value)
        ]
    np = sys.modules.get("numpy")  # without numpy imported, no value is a numpy object
    if np is not None and isinstance(value, np.generic):
        if value.dtype.kind in "biuf":
            return jsonable(value.item(), path, unserializable, finite=finite)
    elif (np is not None and isinstance(value, np.ndarray)) or is_tensor(value):
        return jsonable(value.tolist(), path, unserializable, finite=finite)
    elif isinstance(value, os.PathLike):
        return os.fspath(value)
    elif isinstance(value, numbers.Integral):
        return int(value)
    elif isinstance(value, numbers.Real):
        return jsonable(float(value), path, unserializable, finite=finite)
    else:
        fields = record_fields(value)
        if fields is not None:
            return jsonable(fields, path, unserializable, finite=finite)
    unserializable.append(path)
    return repr(value)


def record_fields(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass instance or an `argparse.Namespace`, else None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, argparse.Namespace):
        return dict(vars(value))
    return None
