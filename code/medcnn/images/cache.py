"""Decode every image once into a uint8 NumPy memmap, then train from that cache.

The study's tutorials decoded and resized every image on every epoch. Here each
image is read once (PIL or h5py, through :func:`medcnn.images.decode.read_image`),
converted to RGB uint8, resized to the backbone's input size and stored in one
``.npy`` file that NumPy maps into memory. Epochs and later runs read that file.

A cache is keyed by the content of the index (paths and labels), the image files'
sizes and modification times, the dataset root and the image size, so a changed
dataset or size gets a new cache and an unchanged one is reused. It is written to
a temporary file and renamed into place only when complete: a killed process
leaves no cache that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.errors import ConfigError, DataError
from medcnn.files import (
    atomic_paths,
    is_disk_full,
    move_into_place,
    partial_path,
    remove_stale_partials,
    require_free_space,
)
from medcnn.images import decode

# 2: images are decoded with their EXIF orientation applied (a cache written by version 1 holds them
# unrotated), so version-1 caches are never served again.
CACHE_FORMAT_VERSION = 2


@dataclass(frozen=True)
class ImageCache:
    """Decoded images and the table they came from.

    Attributes:
        images: a read-only memmap of shape (n, size, size, 3), dtype uint8, in ``frame`` order.
        frame: the manifest rows, one per image, in the same order (without skipped rows).
        path: the ``.npy`` file holding the images.
        decoded: how many images were decoded to build it in this call (0 when reused).
        skipped: the manifest rows left out because they could not be read (``skip_bad=True``),
            with a ``reason`` column; empty when none were.
    """

    images: np.ndarray
    frame: pd.DataFrame
    path: Path
    decoded: int = 0
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["path", "reason"]))

    @property
    def labels(self) -> np.ndarray:
        """Integer labels in cache order."""
        return self.frame["label"].to_numpy(dtype=np.int64)

    def view(self, rows) -> "RowView":
        """The images of ``rows``, read from the memmap only when indexed.

        Example:
            >>> # cache.view(cache.rows("test"))[0].shape == (size, size, 3)
        """
        return RowView(self.images, np.asarray(rows, dtype=np.int64))

    def rows(self, subset: str) -> np.ndarray:
        """Positions of one subset's images (``train``, ``val`` or ``test``)."""
        if "subset" not in self.frame.columns:
            raise ConfigError("this cache's table has no 'subset' column: split the index first (make_splits)")
        return np.flatnonzero(self.frame["subset"].to_numpy() == subset)


class RowView:
    """Some rows of an image array as a sequence read lazily: a prediction grid needs a dozen
    test images, not the whole test subset in memory.

    Example:
        >>> import numpy as np
        >>> view = RowView(np.arange(5 * 2).reshape(5, 2), np.array([4, 1]))
        >>> len(view), view[0].tolist()
        (2, [8, 9])
    """

    def __init__(self, images, rows):
        self.images = images
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, position: int) -> np.ndarray:
        return np.asarray(self.images[self.rows[position]])


def cache_key(manifest: pd.DataFrame, *, root, image_size: int) -> str:
    """Return the key naming a cache: a hash of what the cached pixels depend on.

    That is every image's path, label, size, time and content (a BLAKE2 digest of the
    file: an image edited in place with its old size and time restored gets a new key),
    the root and the image size.

    Example:
        >>> import pandas as pd, tempfile
        >>> frame = pd.DataFrame({"path": ["missing.png"], "label": [0]})
        >>> len(cache_key(frame, root=tempfile.mkdtemp(), image_size=64))
        20
    """
    root = Path(root).resolve()
    digest = hashlib.sha256()
    digest.update(json.dumps({"version": CACHE_FORMAT_VERSION, "size": int(image_size), "root": str(root)}).encode())
    relatives = manifest["path"].astype(str).tolist()

    def stamp_of(relative: str) -> str:
        try:
            path = root / relative
            stat = path.stat()
            with open(path, "rb") as handle:  # the content: an image edited in place keeps neither old key
                content = hashlib.file_digest(handle, "blake2b").hexdigest()[:32]
            return f"{stat.st_size}:{stat.st_mtime_ns}:{content}"
        except OSError:
            return "missing"

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # hashing releases the GIL
        stamps = list(pool.map(stamp_of, relatives, chunksize=64))
    for relative, label, stamp in zip(relatives, manifest["label"].astype(int), stamps):
        digest.update(f"{relative}\t{label}\t{stamp}\n".encode())
    return digest.hexdigest()[:20]


def resize_image(image: np.ndarray, *, image_size: int) -> np.ndarray:
    """Resize an RGB uint8 image to ``image_size`` × ``image_size`` (bilinear, aspect not kept, as the study's loaders did).

    Example:
        >>> import numpy as np
        >>> resize_image(np.zeros((30, 40, 3), "uint8"), image_size=16).shape
        (16, 16, 3)
    """
    from PIL import Image

    if image.shape[:2] == (image_size, image_size):
        return image
    picture = Image.fromarray(image)
    # reducing_gap shrinks large fundus photographs in two fast steps without visible loss.
    picture = picture.resize((image_size, image_size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(picture, dtype=np.uint8)


CACHE_FOLDER_NAME = ".medcnn-cache"


def default_cache_dir(root) -> Path:
    """Decoded images are cached beside the data they come from: ``<root>/.medcnn-cache``.

    Example:
        >>> default_cache_dir("/data/retina").as_posix()
        '/data/retina/.medcnn-cache'
    """
    return Path(root) / CACHE_FOLDER_NAME


BAD_FILES_LISTED = 20


def bad_files_message(skipped: pd.DataFrame, *, total: int) -> str:
    """The message listing every unreadable image at once, and the two ways out.

    Example:
        >>> import pandas as pd
        >>> print(bad_files_message(pd.DataFrame({"path": ["a.png"], "reason": ["/d/a.png: empty"]}), total=10))
        1 of 10 images cannot be read:
          /d/a.png: empty
        Replace or delete them (then index again), or leave them out with `python -m medcnn train ... --skip-bad` (build_cache(..., skip_bad=True))
    """
    lines = [f"{len(skipped)} of {total} images cannot be read:"]
    lines += [f"  {reason}" for reason in skipped["reason"].head(BAD_FILES_LISTED)]
    if len(skipped) > BAD_FILES_LISTED:
        lines.append(f"  ... and {len(skipped) - BAD_FILES_LISTED} more")
    lines.append(
        "Replace or delete them (then index again), or leave them out with "
        "`python -m medcnn train ... --skip-bad` (build_cache(..., skip_bad=True))"
    )
    return "\n".join(lines)


def _read_skipped(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"path": str, "reason": str}, keep_default_na=False)


def build_cache(
    manifest: pd.DataFrame,
    *,
    root,
    image_size: int = 224,
    cache_dir=None,
    workers: int | None = None,
    progress: bool = True,
    skip_bad: bool = False,
) -> ImageCache:
    """Decode the manifest's images once into a memmap cache, or reuse the cache built before.

    Every image is tried; unreadable ones (empty, truncated, not an image) are listed
    all at once in one :class:`~medcnn.errors.DataError`, or, with ``skip_bad=True``,
    left out of the cache and reported in :attr:`ImageCache.skipped`.

    Args:
        manifest: an index or manifest (``path`` relative to ``root``, ``label``, …).
        root: the dataset folder the paths are relative to.
        image_size: the side of the square images stored (the backbone's input size).
        cache_dir: where cache files go (default: ``<root>/.medcnn-cache``, see :func:`default_cache_dir`).
        workers: decoding threads (default: the number of CPU cores).
        progress: show a tqdm progress bar while decoding.
        skip_bad: leave unreadable images out instead of stopping.

    Raises:
        DataError: unreadable images (all listed) without ``skip_bad``, or a missing root.
        DiskFullError: the cache does not fit on the disk (checked before decoding).

    Example:
        >>> import tempfile, pathlib, numpy as np, pandas as pd
        >>> from PIL import Image
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> Image.fromarray(np.full((40, 30), 200, "uint8")).save(root / "a.png")
        >>> cache = build_cache(pd.DataFrame({"path": ["a.png"], "label": [0]}), root=root,
        ...                     image_size=32, cache_dir=root / "cache", progress=False)
        >>> cache.images.shape, int(cache.images[0, 0, 0, 0]), cache.decoded
        ((1, 32, 32, 3), 200, 1)
    """
    if int(image_size) < 1:
        raise ConfigError(f"image_size={image_size}: expected a positive number of pixels")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found; expected the folder that the index paths are relative to")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(root)
    cache_dir.mkdir(parents=True, exist_ok=True)
    frame = manifest.reset_index(drop=True)
    key = cache_key(frame, root=root, image_size=image_size)
    stem = f"images-{image_size}px-{key}"
    images_path = cache_dir / f"{stem}.npy"
    table_path = cache_dir / f"{stem}.csv"
    skipped_path = cache_dir / f"{stem}-skipped.csv"
    shape = (len(frame), image_size, image_size, 3)
    fix = "free some space there, or put the cache elsewhere with --cache-dir (cache_dir=...)"

    # A killed earlier build leaves only a .partial file: never read, removed here.
    remove_stale_partials(cache_dir)
    if images_path.is_file() and table_path.is_file():
        try:
            skipped = _read_skipped(skipped_path) if skipped_path.is_file() else \
                pd.DataFrame(columns=["path", "reason"])
            if not {"path", "reason"} <= set(skipped.columns):
                raise ValueError("no path and reason columns")
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            print(f"{skipped_path}: damaged list of skipped images ({error}); rebuilding the image cache")
            images_path.unlink()
            skipped = pd.DataFrame(columns=["path", "reason"])
    if images_path.is_file() and table_path.is_file():
        if len(skipped) and not skip_bad:
            raise DataError(bad_files_message(skipped, total=len(frame)))
        kept = frame[~frame["path"].astype(str).isin(set(skipped["path"]))].reset_index(drop=True)
        try:
            images = np.load(images_path, mmap_mode="r")
        except (ValueError, OSError, EOFError) as error:  # truncated or overwritten: rebuilt below
            print(f"{images_path}: damaged image cache ({error}); rebuilding it")
            images = None
        if images is not None and images.shape == (len(kept),) + shape[1:] and images.dtype == np.uint8:
            return ImageCache(images=images, frame=kept, path=images_path, decoded=0, skipped=skipped)
        if images is not None:
            print(f"{images_path}: image cache of shape {images.shape}, expected {(len(kept),) + shape[1:]}; "
                  "rebuilding it")
        del images

    needed = int(np.prod(shape)) + 4096
    require_free_space(cache_dir, needed, what=f"the image cache of {len(frame)} images", fix=fix)
    compacted = partial_path(images_path.with_name(images_path.stem + "-compact.npy"), suffix=".npy")
    try:
        with atomic_paths(skipped_path, table_path, images_path, what=f"the image cache of {len(frame)} images",
                          fix=fix, needed=needed) as (skipped_temporary, table_temporary, temporary):
            output = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
            _reserve(temporary)

            def load(position: int) -> str | None:
                try:
                    output[position] = resize_image(decode.read_image(root / frame.at[position, "path"]),
                                                    image_size=image_size)
                except DataError as error:
                    return str(error)
                return None

            with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
                results = pool.map(load, range(len(frame)))
                if progress:
                    from tqdm.auto import tqdm

                    results = tqdm(results, total=len(frame), desc=f"decoding {len(frame)} images once", unit="img")
                reasons = list(results)
            bad = [position for position, reason in enumerate(reasons) if reason is not None]
            skipped = pd.DataFrame(
                {"path": frame.loc[bad, "path"].astype(str).tolist(), "reason": [reasons[position] for position in bad]},
                columns=["path", "reason"],
            )
            if bad and not skip_bad:
                raise DataError(bad_files_message(skipped, total=len(frame)))
            if len(bad) == len(frame):
                raise DataError(bad_files_message(skipped, total=len(frame)).split("\n")[0] + " (all of them): check the dataset folder")
            output.flush()
            if bad:
                good = np.setdiff1d(np.arange(len(frame)), bad)
                kept_output = np.lib.format.open_memmap(compacted, mode="w+", dtype=np.uint8, shape=(len(good),) + shape[1:])
                for start in range(0, len(good), 256):
                    kept_output[start : start + 256] = output[good[start : start + 256]]
                kept_output.flush()
                del kept_output
                del output
                move_into_place(compacted, temporary)
            else:
                del output
            kept = frame.drop(index=bad).reset_index(drop=True)
            kept.to_csv(table_temporary, index=False)
            skipped.to_csv(skipped_temporary, index=False)
    finally:
        compacted.unlink(missing_ok=True)
    images = np.load(images_path, mmap_mode="r")
    return ImageCache(images=images, frame=kept, path=images_path, decoded=len(frame), skipped=skipped)


def _reserve(path: Path) -> None:
    """Allocate the whole file now, so a full disk is an error here, not a crash while writing pages."""
    if not hasattr(os, "posix_fallocate"):
        return
    with open(path, "r+b") as stream:
        size = os.fstat(stream.fileno()).st_size
        try:
            os.posix_fallocate(stream.fileno(), 0, size)
        except OSError as error:
            if is_disk_full(error):
                raise
            # Some file systems cannot preallocate; the free-space check above still ran.
