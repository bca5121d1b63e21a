"""read_image: every format the datasets use, decoded to RGB uint8, and clear errors for bad files."""

import h5py
import numpy as np
import pytest
from PIL import Image

from medcnn.images.matlab import write_mat_record
from medcnn.errors import DataError
from medcnn.images.decode import min_max_to_uint8, read_image


def test_mat_is_transposed_back_and_min_max_scaled(tmp_path):
    raw = np.zeros((3, 5), dtype=np.int16)  # asymmetric: 3 rows, 5 columns
    raw[0, 4] = 1000
    raw[2, 0] = 500
    raw += 100
    path = write_mat_record(tmp_path / "7.mat", label=2, patient_id="101020", image=raw)
    with h5py.File(path, "r") as handle:
        assert handle["cjdata/image"].shape == (5, 3)  # stored column-major, as MATLAB does
    image = read_image(path)
    assert image.shape == (3, 5, 3) and image.dtype == np.uint8
    assert image[0, 4, 0] == 255 and image[1, 1, 0] == 0
    assert image[2, 0, 1] == 128  # uint8(255/1000*500) = round(127.5) = 128, as MATLAB rounds
    assert (image[:, :, 0] == image[:, :, 2]).all()


def test_constant_mat_image_is_refused_not_made_black(tmp_path):
    # Issue 15: a blank deep image is reported like an unreadable one (--skip-bad leaves it out).
    path = write_mat_record(tmp_path / "1.mat", label=1, patient_id="MR1", image=np.full((4, 4), 321))
    with pytest.raises(DataError, match="every pixel is 321"):
        read_image(path)


def test_min_max_matches_the_readme_formula():
    values = np.array([[-50, 0], [25, 150]])
    expected = np.floor(255 / 200 * (values + 50) + 0.5).astype(np.uint8)
    assert np.array_equal(min_max_to_uint8(values), expected)


def save(array, path, mode=None):
    image = Image.fromarray(array) if mode is None else Image.fromarray(array, mode=mode)
    image.save(path)
    return path


def test_png_16_bit_is_scaled_by_its_range(tmp_path):
    path = save(np.array([[1000, 3000], [2000, 60000]], dtype=np.uint16), tmp_path / "deep.png")
    with Image.open(path) as image:
        assert image.mode in ("I;16", "I")
    decoded = read_image(path)
    assert decoded[:, :, 0].tolist() == [[0, 9], [4, 255]]


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    decoded = read_image(save(gray, tmp_path / "gray.png"))
    assert decoded.shape == (3, 4, 3) and all(np.array_equal(decoded[:, :, c], gray) for c in range(3))


def test_rgb_is_kept(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    assert np.array_equal(read_image(save(rgb, tmp_path / "rgb.png")), rgb)


def test_rgba_drops_alpha(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 10, 20, 30, 0
    decoded = read_image(save(rgba, tmp_path / "alpha.png"))
    assert decoded.shape == (2, 2, 3) and decoded[0, 0].tolist() == [10, 20, 30]


def test_palette_is_expanded(tmp_path):
    image = Image.new("P", (3, 2))
    image.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    image.putpixel((1, 0), 1)
    image.save(tmp_path / "palette.png")
    decoded = read_image(tmp_path / "palette.png")
    assert decoded[0, 1].tolist() == [200, 100, 50] and decoded[1, 1].tolist() == [0, 0, 0]


@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".tif"])
def test_other_formats(tmp_path, suffix):
    decoded = read_image(save(np.full((8, 8), 128, np.uint8), tmp_path / f"x{suffix}"))
    assert decoded.shape == (8, 8, 3) and abs(int(decoded.mean()) - 128) <= 2


def test_empty_file_is_named(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="empty.png.*0 bytes"):
        read_image(tmp_path / "empty.png")


def test_truncated_png_is_named(tmp_path):
    path = save(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8), tmp_path / "cut.png")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="cut.png"):
        read_image(path)


def test_text_with_png_suffix_is_named(tmp_path):
    (tmp_path / "fake.png").write_text("this is not an image")
    with pytest.raises(DataError, match="fake.png: not an image"):
        read_image(tmp_path / "fake.png")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="gone.png"):
        read_image(tmp_path / "gone.png")


def test_non_hdf5_mat_is_named(tmp_path):
    (tmp_path / "old.mat").write_bytes(b"MATLAB 5.0 MAT-file, Platform: PCWIN" + b"\0" * 200)
    with pytest.raises(DataError, match="old.mat: a MATLAB v5 file, not v7.3"):
        read_image(tmp_path / "old.mat")
    (tmp_path / "junk.mat").write_bytes(b"junk" * 100)
    with pytest.raises(DataError, match="junk.mat: not a MATLAB v7.3"):
        read_image(tmp_path / "junk.mat")


def test_truncated_mat_is_named(tmp_path):
    path = write_mat_record(tmp_path / "5.mat", label=3, patient_id="MR2", image=np.ones((64, 64)))
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(DataError, match="5.mat"):
        read_image(path)


def test_mat_without_cjdata_or_label_is_named(tmp_path):
    with h5py.File(tmp_path / "other.mat", "w", userblock_size=512) as handle:
        handle["x"] = np.ones(3)
    with pytest.raises(DataError, match="other.mat: no 'cjdata'"):
        read_image(tmp_path / "other.mat")
    with h5py.File(tmp_path / "nolabel.mat", "w", userblock_size=512) as handle:
        handle.create_group("cjdata")["image"] = np.ones((2, 2), np.int16)
    with pytest.raises(DataError, match="nolabel.mat: 'cjdata' has no field 'label'"):
        read_image(tmp_path / "nolabel.mat")
