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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.errors import ConfigError, DataError

CACHE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ImageCache:
    """Decoded images and the table they came from.

    Attributes:
        images: a read-only memmap of shape (n, size, size, 3), dtype uint8, in ``frame`` order.
        frame: the manifest rows, one per image, in the same order.
        path: the ``.npy`` file holding the images.
        decoded: how many images were decoded to build it in this call (0 when reused).
    """

    images: np.ndarray
    frame: pd.DataFrame
    path: Path
    decoded: int = 0

    @property
    def labels(self) -> np.ndarray:
        """Integer labels in cache order."""
        return self.frame["label"].to_numpy(dtype=np.int64)

    def rows(self, subset: str) -> np.ndarray:
        """Positions of one subset's images (``train``, ``val`` or ``test``)."""
        if "subset" not in self.frame.columns:
            raise ConfigError("this cache's table has no 'subset' column: split the index first (make_splits)")
        return np.flatnonzero(self.frame["subset"].to_numpy() == subset)


def cache_key(manifest: pd.DataFrame, *, root, image_size: int) -> str:
    """Return the key naming a cache: a hash of what the cached pixels depend on.

    Example:
        >>> import pandas as pd, tempfile
        >>> frame = pd.DataFrame({"path": ["missing.png"], "label": [0]})
        >>> len(cache_key(frame, root=tempfile.mkdtemp(), image_size=64))
        20
    """
    root = Path(root).resolve()
    digest = hashlib.sha256()
    digest.update(json.dumps({"version": CACHE_FORMAT_VERSION, "size": int(image_size), "root": str(root)}).encode())
    for relative, label in zip(manifest["path"].astype(str), manifest["label"].astype(int)):
        try:
            stat = (root / relative).stat()
            stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            stamp = "missing"
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


def _default_cache_dir() -> Path:
    from medcnn.paths import data_dir

    return data_dir() / "cache"


def build_cache(
    manifest: pd.DataFrame,
    *,
    root,
    image_size: int = 224,
    cache_dir=None,
    workers: int | None = None,
    progress: bool = True,
) -> ImageCache:
    """Decode the manifest's images once into a memmap cache, or reuse the cache built before.

    Args:
        manifest: an index or manifest (``path`` relative to ``root``, ``label``, …).
        root: the dataset folder the paths are relative to.
        image_size: the side of the square images stored (the backbone's input size).
        cache_dir: where cache files go (default: ``<data dir>/cache``).
        workers: decoding threads (default: the number of CPU cores).
        progress: show a tqdm progress bar while decoding.

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
    from medcnn.images.decode import read_image

    if int(image_size) < 1:
        raise ConfigError(f"image_size={image_size}: expected a positive number of pixels")
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found; expected the folder that the index paths are relative to")
    cache_dir = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    frame = manifest.reset_index(drop=True)
    key = cache_key(frame, root=root, image_size=image_size)
    images_path = cache_dir / f"images-{image_size}px-{key}.npy"
    table_path = cache_dir / f"images-{image_size}px-{key}.csv"

    if images_path.is_file() and table_path.is_file():
        images = np.load(images_path, mmap_mode="r")
        if images.shape == (len(frame), image_size, image_size, 3) and images.dtype == np.uint8:
            return ImageCache(images=images, frame=frame, path=images_path, decoded=0)

    temporary = images_path.with_name(f".{images_path.name}.{os.getpid()}.partial")
    try:
        output = np.lib.format.open_memmap(
            temporary, mode="w+", dtype=np.uint8, shape=(len(frame), image_size, image_size, 3)
        )

        def load(position: int) -> int:
            output[position] = resize_image(read_image(root / frame.at[position, "path"]), image_size=image_size)
            return position

        positions = range(len(frame))
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            results = pool.map(load, positions)
            if progress:
                from tqdm import tqdm

                results = tqdm(results, total=len(frame), desc=f"decoding {len(frame)} images once", unit="img")
            for _ in results:
                pass
        output.flush()
        del output
        frame.to_csv(table_path.with_name(table_path.name + ".partial"), index=False)
        os.replace(table_path.with_name(table_path.name + ".partial"), table_path)
        os.replace(temporary, images_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        table_path.with_name(table_path.name + ".partial").unlink(missing_ok=True)
        raise
    images = np.load(images_path, mmap_mode="r")
    return ImageCache(images=images, frame=frame, path=images_path, decoded=len(frame))
