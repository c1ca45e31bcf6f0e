"""The user's own PNG and JPEG images (``image-folder``), one subfolder per class when labelled.

Layout, under the data root (``--data-root DIR``; ``root=NAME`` a folder inside it):

* images at the top of the folder: unlabelled data;
* one subfolder per class, images inside: labelled, classes numbered in the order of the
  folders' names (as torchvision's ``ImageFolder`` numbers them); a single subfolder is
  one class, i.e. unlabelled data.

Names that start with a dot (``.DS_Store``) are skipped. Anything else is refused in one
line naming the file: a file that is not ``.png``/``.jpg``/``.jpeg``, one that does not
decode, images beside class folders, a folder inside a class folder, an empty class folder,
images of different sizes without ``size`` or grey beside colour without ``channels``.

Files are opened as torchvision's ``ImageFolder`` opens them, with PIL (its default
loader), and converted to grey or RGB here (that loader makes every image RGB, and PIL's own
conversion clips a 16-bit PNG, which is scaled to 8 bits instead; an alpha channel or a
palette's transparency is dropped). ``ImageFolder`` itself is not used: it walks class
folders at any depth, has no unlabelled layout and says nothing of a bad file until a batch
reaches it. ``torchvision.io.decode_image`` is not used either: torchvision 0.29 deprecates
its image decoders for TorchCodec's.

``size=N`` resizes every image to N x N (the aspect ratio is not kept: crop first where it
matters) with PIL's ``Image.resize`` and the filter of that name: ``nearest``, ``box``,
``bilinear``, ``hamming``, ``bicubic`` (the default, as PIL's) or ``lanczos``; PIL's filters
but ``nearest`` antialias as they shrink (clean-fid, Parmar et al. 2022, shows that FID
depends on it). ``channels=1`` or ``3`` converts every image to grey or RGB; left at 0, the images are
grey when every one is (red, green and blue equal), else RGB. The size, filter, channels,
file count and a digest of the decoded images are in the dataset's protocol, which every
evaluation records.

The decoded images are cached as uint8 under ``$GANAGERIE_CACHE/image-folder`` (written
whole, then renamed), keyed by a hash of the options and of every file's path, size and
modification time: a second run reads them back instead of decoding, and a changed file
makes it decode again (as does another version of PIL).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy
import torch
from torch import Tensor

from ganagerie import locks
from ganagerie.errors import did_you_mean
from ganagerie.evaluation.backbones import cache_dir
from ganagerie.files import write_with
from ganagerie.plugins.user_images import (
    CHANNELS,
    UserImages,
    check_memory,
    check_test_fraction,
    under_data_root,
)

EXTENSIONS = (".png", ".jpg", ".jpeg")
#: PIL's resampling filters, by their names in ``PIL.Image.Resampling``
FILTERS = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")
#: bump when decoding or resizing changes: older caches are then decoded again
CACHE_VERSION = 1
#: the largest image file read (a photo of 100 megapixels is a fraction of it)
MAX_FILE_BYTES = 512 * 2**20
MAX_SIZE = 2048

_memo: dict[str, tuple[Tensor, dict[str, Any]]] = {}


class ImageFolder(UserImages):
    """The user's PNG/JPEG images in a folder, one subfolder per class if labelled; resized."""

    def __init__(self, root: str = "", size: int = 0, channels: int = 0, filter: str = "bicubic",
                 test_fraction: float = 0.1):
        if size != 0 and not 4 <= size <= MAX_SIZE:
            raise ValueError(f"size must be 0 (keep the images' own) or between 4 and {MAX_SIZE}, got {size}")
        if channels not in (0, *CHANNELS):
            raise ValueError(f"channels must be 1 (grey), 3 (RGB) or 0 (as the images are), got {channels}")
        if filter not in FILTERS:
            hint = did_you_mean(filter, FILTERS) or ""
            raise ValueError(f"unknown filter {filter!r};{hint} choose from {', '.join(FILTERS)}")
        check_test_fraction(test_fraction)
        folder = under_data_root(root, "root")
        files, labels, classes = scan(folder)
        options = {"size": size, "channels": channels, "filter": filter}
        images, about = cached_images(folder, files, options)
        about = {"reader": "image-folder", "root": root, **about, "filter": filter,
                 "labels": "class folders" if classes else "none"}
        self.hold(images, labels, classes, test_fraction, about)


# -- the layout ---------------------------------------------------------------------------


def scan(folder: Path) -> tuple[list[Path], Tensor | None, list[str] | None]:
    """The image files of ``folder`` in a fixed order, their labels and the class names
    (None, None when unlabelled); a ValueError naming the first thing out of place."""
    if not folder.exists():
        raise ValueError(f"no image folder at {folder}; pass --data-root DIR, the folder that holds "
                         "your images (and root=NAME for a folder inside it)")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; root names a folder of PNG or JPEG images")
    files, folders = _entries(folder)
    if files and folders:
        raise ValueError(f"{folder} holds both images ({files[0].name}) and folders ({folders[0].name}); "
                         "put every image in a class folder (labelled) or all at the top (unlabelled)")
    if not files and not folders:
        raise ValueError(f"{folder} holds no PNG or JPEG images")
    if files:
        return files, None, None
    per_class = []
    for sub in folders:
        inside, deeper = _entries(sub)
        if deeper:
            raise ValueError(f"{deeper[0]} is a folder inside class folder {sub.name}; classes are the "
                             f"folders at the top of {folder} only: move its images up or out")
        if not inside:
            raise ValueError(f"class folder {sub} holds no PNG or JPEG images; add some or remove it")
        per_class.append(inside)
    files = [f for inside in per_class for f in inside]
    if len(folders) == 1:  # one class: no labels to learn or score by
        return files, None, None
    labels = torch.cat([torch.full((len(inside),), c, dtype=torch.long)
                        for c, inside in enumerate(per_class)])
    return files, labels, [sub.name for sub in folders]


def _entries(folder: Path) -> tuple[list[Path], list[Path]]:
    """The image files and the folders of ``folder``, by name; hidden names skipped."""
    try:
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        raise ValueError(f"cannot list {folder} ({exc.strerror}); fix its permissions") from None
    files, folders = [], []
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir():
            folders.append(path)
        elif not entry.is_file():
            raise ValueError(f"{path} is not a file or a folder (a broken link, a pipe?); move it out")
        elif path.suffix.lower() not in EXTENSIONS:
            raise ValueError(f"{path} is not a PNG or JPEG file ({', '.join(EXTENSIONS)}); move it out "
                             f"of {folder}")
        else:
            files.append(path)
    return files, folders


# -- decoding, resizing, the cache ----------------------------------------------------------


def cached_images(folder: Path, files: list[Path], options: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
    """The decoded images ``[N, C, H, W]`` of ``files`` and what decoding found, from the
    process's memory, the cache, or the files (then cached)."""
    listing = []
    for f in files:
        try:
            st = f.stat()
        except OSError as exc:
            raise ValueError(f"cannot read {f} ({exc.strerror}); fix its permissions or move it "
                             "out") from None
        listing.append([str(f.relative_to(folder)), st.st_size, st.st_mtime_ns])
    slot = hashlib.sha256(json.dumps([str(folder.resolve()), options]).encode()).hexdigest()[:24]
    key = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "pil": _pil_version(), "options": options,
                                     "folder": str(folder.resolve()), "files": listing}).encode()).hexdigest()
    if key in _memo:
        return _memo[key]
    path = cache_dir() / "image-folder" / f"{slot}.safetensors"
    # two processes that need one folder (bench workers) decode it once
    with locks.locked(path.parent, "image decoding", "", wait=True):
        found = _read_cache(path, key, len(files), options)
        if found is None:
            found = decode_all(files, **options)
            _write_cache(path, key, *found)
    while len(_memo) >= 2:  # a process uses one folder or two; don't hold every one it saw
        _memo.pop(next(iter(_memo)))
    _memo[key] = found
    return found


def _read_cache(path: Path, key: str, n: int, options: dict[str, Any]) -> tuple[Tensor, dict] | None:
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
            if meta.get("key") != key:
                return None
            images = fh.get_tensor("images")
            about = json.loads(meta["about"])
    except Exception:  # a damaged or foreign cache file is decoded over, not trusted
        return None
    size, channels = options["size"], options["channels"]
    if (images.dtype != torch.uint8 or images.dim() != 4 or images.shape[0] != n
            or images.shape[1] not in ((channels,) if channels else CHANNELS)
            or (size and tuple(images.shape[2:]) != (size, size)) or not isinstance(about, dict)):
        return None
    return images, about


def _write_cache(path: Path, key: str, images: Tensor, about: dict[str, Any]) -> None:
    from safetensors.torch import save

    data = save({"images": images.contiguous()}, metadata={"key": key, "about": json.dumps(about)})
    try:
        write_with(path, lambda fh: fh.write(data))
    except OSError:  # the cache only saves time: a read-only or full cache decodes next time again
        pass


def decode_all(files: list[Path], size: int, channels: int, filter: str) -> tuple[Tensor, dict[str, Any]]:
    """Decode and resize every file into uint8 ``[N, C, H, W]``; a ValueError naming the
    first file that cannot be read, or that differs from the first in size (without
    ``size``) or in colour (without ``channels``)."""
    images: Tensor | None = None
    resized = stretched = 0
    grey: Path | None = None
    colour: Path | None = None
    for i, path in enumerate(files):
        image = decode(path, channels or 3)
        if not channels:  # decoded as RGB: grey when every pixel's three values agree
            is_grey = bool((image[0] == image[1]).all() and (image[1] == image[2]).all())
            if is_grey:
                grey = grey or path
            else:
                colour = colour or path
            if grey and colour:
                raise ValueError(f"{colour} is in colour and {grey} is grey; give channels=3 (every image "
                                 "as RGB) or channels=1 (every image as grey)")
        height, width = image.shape[1:]
        if size:
            if (height, width) != (size, size):
                image = resize(image, size, filter)
                resized += 1
                stretched += height != width
        elif images is not None and (height, width) != tuple(images.shape[2:]):
            h0, w0 = images.shape[2:]
            raise ValueError(f"{path} is {width}x{height} and {files[0]} is {w0}x{h0}; give size=N to "
                             "resize every image to NxN")
        if images is None:
            check_memory(len(files), tuple(image.shape), str(path.parent), "give a smaller size=N")
            images = torch.empty((len(files), *image.shape), dtype=torch.uint8)
        images[i] = image
    assert images is not None  # scan refuses a folder without images
    if not channels and colour is None:
        images = images[:, :1].clone()
    found = "grey images" if colour is None else "colour images"
    about = {"size": list(images.shape[2:]), "channels": int(images.shape[1]),
             "channels_from": "option" if channels else found,
             "decoder": "PIL " + _pil_version(), "resize": "PIL Image.resize",
             "resized": resized, "stretched": stretched}
    return images, about


def _pil_version() -> str:
    import PIL

    return PIL.__version__


def decode(path: Path, channels: int) -> Tensor:
    """One image file as uint8 ``[channels, H, W]`` (1: grey, 3: RGB), opened as
    torchvision's ``ImageFolder`` opens it, with PIL."""
    from PIL import Image, UnidentifiedImageError

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"{path} holds more than {MAX_FILE_BYTES // 2**20} MB; an image file "
                             "is smaller: move it out")
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror}); fix its permissions or move it out") from None
    if not data:
        raise ValueError(f"{path} is empty; replace it or move it out")
    try:
        with warnings.catch_warnings():  # a palette's transparency is dropped, as said above
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = _eight_bit(image).convert("L" if channels == 1 else "RGB")
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image PIL can read (damaged, or not a PNG or JPEG); "
                         "replace it or move it out") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path} cannot be decoded as an image ({reason}); replace it or move it "
                         "out") from None
    array = numpy.asarray(image)
    return torch.from_numpy(array.copy()).view(*array.shape[:2], -1).permute(2, 0, 1).contiguous()


def _eight_bit(image: Any) -> Any:
    """A 16-bit grey image (``I;16``, ``I``) scaled to 8 bits; PIL's own conversion clips it."""
    from PIL import Image

    if image.mode not in ("I;16", "I;16B", "I;16L", "I"):
        return image
    wide = numpy.asarray(image).astype(numpy.int64)
    return Image.fromarray(((wide.clip(0, 65535) * 255 + 32767) // 65535).astype(numpy.uint8), mode="L")


def resize(image: Tensor, size: int, filter: str) -> Tensor:
    """``image`` (uint8 ``[C, H, W]``) resized to ``size`` x ``size`` by PIL's filter of that name."""
    from PIL import Image

    array = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[:, :, 0] if image.shape[0] == 1 else array)
    out = numpy.asarray(pil.resize((size, size), resample=Image.Resampling[filter.upper()]))
    return torch.from_numpy(out.copy()).view(size, size, -1).permute(2, 0, 1).contiguous()
