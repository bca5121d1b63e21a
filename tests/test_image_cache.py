"""The decode-once image cache: one decode per image across epochs and runs, atomic writes."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import medcnn.images.decode as decode
from medcnn.batches import ArrayBatches
from medcnn.errors import DataError
from medcnn.images.cache import build_cache


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    rows = []
    for number in range(6):
        name = f"image-{number}.png"
        Image.fromarray(np.full((30 + number, 40, 3), 40 * number, dtype=np.uint8)).save(root / name)
        rows.append({"path": name, "label": number % 2, "subset": "train" if number < 4 else "test"})
    return root, pd.DataFrame(rows)


@pytest.fixture
def decode_counter(monkeypatch):
    calls = []
    original = decode.read_image

    def counting(path):
        calls.append(str(path))
        return original(path)

    monkeypatch.setattr(decode, "read_image", counting)
    return calls


def test_each_image_is_decoded_once_across_epochs_and_runs(image_folder, decode_counter, tmp_path):
    root, manifest = image_folder
    cache = build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    assert cache.images.shape == (6, 16, 16, 3) and cache.images.dtype == np.uint8
    assert cache.decoded == 6 and len(decode_counter) == 6
    assert int(cache.images[3].mean()) == 120  # pixel values survive the round trip
    batches = ArrayBatches(cache.images, cache.labels, num_classes=2, batch_size=2, shuffle=True, seed=0)
    for _epoch in range(3):
        for position in range(len(batches)):
            batches[position]
        batches.on_epoch_end()
    again = build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    assert again.decoded == 0 and len(decode_counter) == 6
    assert np.array_equal(np.asarray(again.images), np.asarray(cache.images))
    assert again.rows("test").tolist() == [4, 5]


def test_a_changed_image_or_size_gets_a_new_cache(image_folder, decode_counter, tmp_path):
    root, manifest = image_folder
    build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    build_cache(manifest, root=root, image_size=20, cache_dir=tmp_path / "cache", progress=False)
    assert len(decode_counter) == 12
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(root / "image-0.png")
    rebuilt = build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    assert rebuilt.decoded == 6 and int(rebuilt.images[0].max()) == 0


def test_an_unreadable_image_leaves_no_cache_behind(image_folder, tmp_path):
    root, manifest = image_folder
    (root / "image-2.png").write_bytes(b"")
    with pytest.raises(DataError, match="image-2.png"):
        build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []
