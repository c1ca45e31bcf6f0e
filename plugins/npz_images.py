"""The user's images from a NumPy ``.npz`` file (``npz``): ``x`` the images, ``y`` their classes.

``file=NAME.npz`` is a file under the data root (``--data-root DIR``). It holds the array
``x`` and, for labelled data, ``y``, nothing else (``numpy.savez(path, x=images, y=labels)``),
and is read with ``numpy.load(allow_pickle=False)``: an array of Python objects, which only
a pickle could hold (and a pickle can run code), is refused.

* ``x``: ``(N, H, W)`` grey images, or ``(N, H, W, C)`` / ``(N, C, H, W)`` with C = 1 or 3
  (``layout=auto`` tells them apart by where the 1 or 3 is; ``nhwc`` or ``nchw`` when both
  axes could be it). ``uint8`` pixels are 0..255; floats (``float16/32/64``) lie in
  [``low``, ``high``], [0, 1] by default ([-1, 1]: ``low=-1``), and are scaled from there.
  A value outside the range, or not finite, is refused rather than clipped.
* ``y``: integer classes ``(N,)`` numbered 0..K-1, each used, K >= 2.

Shapes and types are checked from the arrays' headers before anything is loaded. The split
is ``image-folder``'s (``ganagerie.plugins.user_images``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganagerie.plugins.user_images import (
    CHANNELS,
    UserImages,
    check_memory,
    check_test_fraction,
    class_labels,
    under_data_root,
)

LAYOUTS = ("auto", "nhwc", "nchw")
FLOATS = (np.float16, np.float32, np.float64)


class NpzImages(UserImages):
    """Images from a .npz file: x (N,H,W[,C]) or (N,C,H,W), uint8 or floats in [low, high]; y labels."""

    def __init__(self, file: str = "", layout: str = "auto", low: float = 0.0, high: float = 1.0,
                 test_fraction: float = 0.1):
        if not file:
            raise ValueError("give file=NAME.npz, a file under the data root (--data-root DIR)")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        if not low < high:
            raise ValueError(f"low must be below high, got low={low} and high={high}")
        check_test_fraction(test_fraction)
        path = under_data_root(file, "file")
        arrays = read_npz(path)
        x, y = arrays["x"], arrays.get("y")
        order = axes(tuple(x.shape), layout, path)
        x = np.transpose(x, order) if len(order) == 4 else x[:, None]
        if x.dtype == np.uint8:
            value_range = (0.0, 255.0)
        else:
            if not np.isfinite(x).all():
                raise ValueError(f"{path}: x holds values that are not finite (NaN or infinity)")
            lo, hi = float(x.min()), float(x.max())
            if lo < low or hi > high:
                raise ValueError(f"{path}: x holds values in [{lo:.4g}, {hi:.4g}], outside [{low:g}, "
                                 f"{high:g}]; give low= and high=, the range its floats are in")
            value_range = (low, high)
            x = x.astype(np.float32)
        labels, classes = class_labels(y, x.shape[0], str(path)) if y is not None else (None, None)
        shown = "nhw" if not order else ("nhwc" if order == (0, 3, 1, 2) else "nchw")
        about = {"reader": "npz", "file": file, "dtype": str(arrays["x"].dtype), "layout": shown,
                 "value_range": list(value_range)}
        self.hold(torch.from_numpy(np.ascontiguousarray(x)), labels, classes, test_fraction, about,
                  value_range)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """``x`` (and ``y``) of the .npz file at ``path``, checked from their headers first."""
    if not path.exists():
        raise ValueError(f"no file at {path}; pass --data-root DIR, the folder that holds it, and "
                         "file=NAME.npz inside it")
    if not path.is_file():
        raise ValueError(f"{path} is not a file; file names a .npz file")
    try:
        with zipfile.ZipFile(path) as archive:
            headers = {name.removesuffix(".npy"): _header(archive, name) for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)[:200]
        raise ValueError(f"{path} is not a readable .npz file ({reason}); save the images with "
                         "numpy.savez(path, x=images, y=labels)") from None
    if "x" not in headers:
        raise ValueError(f"{path} has no array 'x' (it has {', '.join(sorted(headers)) or 'none'}); "
                         "save the images as x: numpy.savez(path, x=images, y=labels)")
    extra = sorted(set(headers) - {"x", "y"})
    if extra:
        raise ValueError(f"{path} holds arrays {', '.join(extra)} besides x and y; save only x (and y)")
    for name, (_shape, dtype) in headers.items():
        if dtype.hasobject:
            raise ValueError(f"{path}: {name} holds Python objects, which only a pickle can hold "
                             "(and pickles can run code); save numbers")
    shape, dtype = headers["x"]
    if dtype != np.uint8 and dtype not in FLOATS:
        raise ValueError(f"{path}: x is {dtype}; give uint8 pixels (0..255) or floats in [low, high]")
    if shape and shape[0] == 0:
        raise ValueError(f"{path}: x holds no images (its shape is {shape})")
    if len(shape) not in (3, 4) or 0 in shape:
        raise ValueError(f"{path}: x has shape {shape}; give images (N, H, W), (N, H, W, C) or (N, C, H, W)")
    check_memory(shape[0], shape[1:], str(path))
    if "y" in headers and headers["y"][0] != (shape[0],):
        raise ValueError(f"{path}: y must hold one label per image, shape ({shape[0]},), not "
                         f"{headers['y'][0]}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in headers}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path} cannot be read ({str(exc)[:200]})") from None


def _header(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an array member of a .npz declares, read without loading it."""
    if not name.endswith(".npy"):
        raise ValueError(f"member {name!r} is not a .npy array")
    with archive.open(name) as fh:
        version = np.lib.format.read_magic(fh)
        fmt = np.lib.format
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _fortran, dtype = read(fh)
    return tuple(int(s) for s in shape), dtype


def axes(shape: tuple[int, ...], layout: str, path: Any) -> tuple[int, ...]:
    """The transpose of x to (N, C, H, W): ``()`` for grey (N, H, W); a ValueError when the
    channel axis is not 1 or 3, or cannot be told apart."""
    if len(shape) == 3:
        return ()
    last, first = shape[3] in CHANNELS, shape[1] in CHANNELS
    if layout == "auto":
        if not (last or first):
            raise ValueError(f"{path}: x has shape {shape}; images have 1 (grey) or 3 (RGB) channels, "
                             "as (N, H, W), (N, H, W, C) or (N, C, H, W)")
        if last and first:
            raise ValueError(f"{path}: x has shape {shape}; give layout=nhwc (channels last) or "
                             "layout=nchw (channels first)")
        layout = "nhwc" if last else "nchw"
    if layout == "nhwc" and not last or layout == "nchw" and not first:
        axis = 3 if layout == "nhwc" else 1
        raise ValueError(f"{path}: x has shape {shape}, whose {layout} channel axis holds {shape[axis]}; "
                         "images have 1 (grey) or 3 (RGB) channels")
    return (0, 3, 1, 2) if layout == "nhwc" else (0, 1, 2, 3)
