"""Bad input and faults (issue 7): a clear error for each, nothing half-written trusted, interrupted work resumes.

Cases already asserted elsewhere are not repeated here (see the table in tests/test_faults_training.py's
neighbours: test_decode, test_datasets_*, test_download, test_image_cache, test_splits, test_training).
"""

import errno
import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medcnn.cli import main
from medcnn.errors import ConfigError, DataError, DiskFullError, DownloadError
from medcnn.images.cache import build_cache


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    rows = []
    for number in range(8):
        name = f"image-{number}.png"
        Image.fromarray(np.full((20, 24, 3), 30 * number, dtype=np.uint8)).save(root / name)
        rows.append({"path": name, "label": number % 2, "subset": ("train", "train", "val", "test")[number % 4]})
    return root, pd.DataFrame(rows)


def _break(root, names):
    (root / names[0]).write_bytes(b"")  # 0 bytes
    data = (root / names[1]).read_bytes()
    (root / names[1]).write_bytes(data[: len(data) // 2])  # truncated
    (root / names[2]).write_text("<html>not an image</html>")  # an image extension, not an image


# --- --skip-bad: stop and list every bad file at once, or leave them out and say so ------------------


def test_every_bad_image_is_listed_at_once(image_folder, tmp_path):
    root, manifest = image_folder
    _break(root, ["image-1.png", "image-4.png", "image-6.png"])
    with pytest.raises(DataError) as caught:
        build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    message = str(caught.value)
    assert message.startswith("3 of 8 images cannot be read")
    for name in ("image-1.png", "image-4.png", "image-6.png"):
        assert name in message
    assert "--skip-bad" in message
    assert list((tmp_path / "cache").iterdir()) == []


def test_skip_bad_leaves_them_out_and_reports_them(image_folder, tmp_path):
    root, manifest = image_folder
    _break(root, ["image-1.png", "image-4.png", "image-6.png"])
    cache = build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False, skip_bad=True)
    assert cache.images.shape == (5, 16, 16, 3)
    assert cache.frame["path"].tolist() == ["image-0.png", "image-2.png", "image-3.png", "image-5.png", "image-7.png"]
    assert [int(cache.images[i, 0, 0, 0]) for i in range(5)] == [0, 60, 90, 150, 210]
    assert sorted(cache.skipped["path"]) == ["image-1.png", "image-4.png", "image-6.png"]
    again = build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False, skip_bad=True)
    assert again.decoded == 0 and len(again.skipped) == 3 and again.images.shape[0] == 5
    # The reused cache still refuses to hide bad files from a run that did not ask to skip them.
    with pytest.raises(DataError, match="3 of 8 images cannot be read"):
        build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)


def test_train_skip_bad_records_the_skipped_images_in_the_run(tmp_path, capsys):
    from medcnn.datasets import get_dataset

    root = get_dataset("folder").write_synthetic(tmp_path / "data", per_class=8, seed=0)
    index = get_dataset("folder").index(root)
    broken = index["path"].iloc[[1, 9]].tolist()
    for relative in broken:
        (root / relative).write_bytes(b"")
    arguments = ["train", "--dataset", "folder", "--root", str(root), "--epochs", "1", "--batch-size", "4",
                 "--verbose", "0", "--out", str(tmp_path / "run")]
    assert main(arguments) == 3  # DataError
    error = capsys.readouterr().err
    assert f"2 of {len(index)} images cannot be read" in error and all(name in error for name in broken) and "--skip-bad" in error
    assert main(arguments + ["--skip-bad"]) == 0
    output = capsys.readouterr().out
    assert f"skipped 2 unreadable image(s) of {len(index)}" in output
    manifest = pd.read_csv(tmp_path / "run" / "manifest.csv", keep_default_na=False)
    assert sorted(manifest.loc[manifest["skipped"] != "", "path"]) == sorted(broken)
    assert sorted(pd.read_csv(tmp_path / "run" / "skipped.csv")["path"]) == sorted(broken)
    # Evaluating the run again uses the same images (the skipped ones stay out).
    assert main(["evaluate", "--run", str(tmp_path / "run")]) == 0


# --- 21: a cache interrupted while being written -----------------------------------------------------


def test_a_killed_cache_build_is_never_read_and_is_cleaned_up(image_folder, tmp_path):
    root, manifest = image_folder
    cache_dir = tmp_path / "cache"
    built = build_cache(manifest, root=root, image_size=16, cache_dir=cache_dir, progress=False)
    name = built.path.name
    expected = np.asarray(built.images).copy()
    for path in cache_dir.iterdir():
        path.unlink()
    # What a process killed mid-write leaves: only its .partial file (its process id no longer runs).
    leftover = cache_dir / f".{name}.999999999.partial"
    leftover.write_bytes(b"\x93NUMPY half-written")
    rebuilt = build_cache(manifest, root=root, image_size=16, cache_dir=cache_dir, progress=False)
    assert rebuilt.decoded == 8 and np.array_equal(np.asarray(rebuilt.images), expected)
    assert not leftover.exists()
    assert sorted(path.name for path in cache_dir.iterdir() if path.name.endswith(".partial")) == []


def test_a_cache_killed_after_the_images_but_before_the_table_is_rebuilt(image_folder, tmp_path):
    root, manifest = image_folder
    cache_dir = tmp_path / "cache"
    built = build_cache(manifest, root=root, image_size=16, cache_dir=cache_dir, progress=False)
    built.path.with_suffix(".csv").unlink()  # the table is renamed into place before the images: never trusted alone
    again = build_cache(manifest, root=root, image_size=16, cache_dir=cache_dir, progress=False)
    assert again.decoded == 8


# --- 22: disk full ----------------------------------------------------------------------------------


def test_disk_full_is_checked_before_decoding(image_folder, tmp_path, monkeypatch):
    import medcnn.files as files

    root, manifest = image_folder
    monkeypatch.setattr(files, "free_bytes", lambda folder: 1000)
    with pytest.raises(DiskFullError) as caught:
        build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    message = str(caught.value)
    assert message.startswith(f"disk full: cannot write the image cache of 8 images in {tmp_path / 'cache'}")
    assert "it needs about 10.2 KB" in message and "1.0 KB free" in message and "--cache-dir" in message


def test_disk_full_while_writing_the_cache_leaves_nothing(image_folder, tmp_path, monkeypatch):
    root, manifest = image_folder

    def full(*arguments, **keywords):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(DiskFullError, match="disk full: cannot write the image cache"):
        build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


def test_disk_full_while_writing_results_names_the_folder_and_keeps_the_old_file(tmp_path, monkeypatch):
    from medcnn.files import atomic_path

    target = tmp_path / "run" / "metrics.json"
    target.parent.mkdir()
    target.write_text("{}")

    def write_then_fail(temporary):
        temporary.write_text('{"accuracy": 0.')
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFullError) as caught:
        with atomic_path(target, what="the metrics") as temporary:
            write_then_fail(temporary)
    assert f"cannot write the metrics in {target.parent}" in str(caught.value)
    assert target.read_text() == "{}"
    assert [path.name for path in target.parent.iterdir()] == ["metrics.json"]


# --- 16, 17, 19: downloads ----------------------------------------------------------------------------


def test_interrupted_download_is_never_taken_as_complete_and_a_rerun_restarts(file_server, tmp_path):
    from medcnn.download.fetch import fetch_url

    payload = os.urandom(300_000)
    (file_server.folder / "data.zip").write_bytes(payload)
    file_server.cut.add("data.zip")
    target = tmp_path / "downloads"
    with pytest.raises(DownloadError) as caught:
        fetch_url(f"{file_server.url}/data.zip", folder=target, file_name="data.zip", progress=False)
    assert f"{file_server.url}/data.zip" in str(caught.value) and "save it as" in str(caught.value)
    assert not (target / "data.zip").exists()
    assert [path.name for path in target.iterdir()] == []  # no temporary file left either
    file_server.cut.clear()
    path = fetch_url(f"{file_server.url}/data.zip", folder=target, file_name="data.zip", progress=False)
    assert path.read_bytes() == payload


def _serve_figshare(server, article):
    """Serve the synthetic article's files by id under /files/<id>; return their table and URL templates."""
    (server.folder / "files").mkdir(exist_ok=True)
    for file_id, data in article.files.items():
        (server.folder / "files" / str(file_id)).write_bytes(data)
    return article.parts, (f"{server.url}/files/{{file_id}}",)


def test_figshare_parts_are_checked_against_their_checksums(file_server, figshare_article, tmp_path):
    from medcnn.datasets import brain_tumor

    parts, endpoints = _serve_figshare(file_server, figshare_article)
    root = brain_tumor.download(tmp_path / "good" / "brain_tumor", progress=False, part_checksums=parts, endpoints=endpoints)
    assert len(brain_tumor.index(root)) == 6

    name = "brainTumorDataPublic_1-766.zip"
    file_id, size, _ = parts[name]
    wrong = dict(parts, **{name: (file_id, size, "0" * 32)})
    target = tmp_path / "bad" / "brain_tumor"
    with pytest.raises(DownloadError) as caught:
        brain_tumor.download(target, progress=False, part_checksums=wrong, endpoints=endpoints)
    message = str(caught.value)
    assert f"could not download {name}" in message and "wrong checksum: md5" in message
    assert "expected 00000000" in message and "Nothing was kept" in message
    assert not (target / name).exists() and not (target / name.removesuffix(".zip")).exists()


def test_figshare_checksums_are_known_for_every_part():
    from medcnn.datasets import brain_tumor

    assert set(brain_tumor.FIGSHARE_PARTS) == {
        "brainTumorDataPublic_1-766.zip", "brainTumorDataPublic_767-1532.zip",
        "brainTumorDataPublic_1533-2298.zip", "brainTumorDataPublic_2299-3064.zip", "cvind.mat",
    }
    for file_id, size, md5 in brain_tumor.FIGSHARE_PARTS.values():
        assert file_id > 0 and size > 0 and len(md5) == 32 and int(md5, 16) >= 0


def test_a_damaged_figshare_zip_is_fetched_again(file_server, figshare_article, tmp_path):
    from medcnn.datasets import brain_tumor

    parts, endpoints = _serve_figshare(file_server, figshare_article)
    root = tmp_path / "data" / "brain_tumor"
    root.mkdir(parents=True)
    # A half copy placed under the final name (for instance by an interrupted copy by hand).
    name = "brainTumorDataPublic_1-766.zip"
    (root / name).write_bytes((file_server.folder / "files" / str(parts[name][0])).read_bytes()[:500])
    brain_tumor.download(root, progress=False, part_checksums=parts, endpoints=endpoints)
    assert len(brain_tumor.index(root)) == 6 and (root / name).stat().st_size == parts[name][1]


def test_kaggle_versions_are_pinned():
    from medcnn.datasets import covid19, retina
    from medcnn.download.fetch import kaggle_handle

    assert kaggle_handle(covid19.SOURCE, version=covid19.KAGGLE_VERSION).endswith("/versions/5")
    assert kaggle_handle(retina.SOURCE, version=retina.KAGGLE_VERSION).endswith("/versions/1")


def test_no_network_in_the_full_profile_names_the_url_and_the_manual_fix(tmp_path, monkeypatch, capsys):
    import socket

    from medcnn.datasets import brain_tumor

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(brain_tumor, "FIGSHARE_API", f"http://127.0.0.1:{port}/v2")
    monkeypatch.setattr(brain_tumor, "FIGSHARE_FILES", f"http://127.0.0.1:{port}/files")
    status = main(["download", "--dataset", "brain_tumor", "--data-dir", str(tmp_path)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 4 and len(lines) == 2  # DownloadError
    first_id = brain_tumor.FIGSHARE_PARTS["brainTumorDataPublic_1-766.zip"][0]
    assert f"http://127.0.0.1:{port}/v2/file/download/{first_id}" in lines[0]
    assert f"http://127.0.0.1:{port}/files/{first_id}" in lines[0]
    assert f"save the zip as {tmp_path / 'brain_tumor' / '1512427.zip'}" in lines[0] and "Download all" in lines[0]
    assert lines[1] == "(run with --debug for the traceback)"


def test_kaggle_credentials_never_appear_in_messages(tmp_path, monkeypatch, capsys):
    import kagglehub

    secret = "f3a9c0d1e2b34c5d6e7f8a9b0c1d2e3f"
    monkeypatch.setenv("KAGGLE_USERNAME", "student")
    monkeypatch.setenv("KAGGLE_KEY", secret)

    def failing(handle, **options):
        raise RuntimeError(f"401 Unauthorized for https://student:{secret}@www.kaggle.com/api/v1/datasets/{handle}")

    monkeypatch.setattr(kagglehub, "dataset_download", failing)
    status = main(["download", "--dataset", "retina", "--data-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 4 and "401 Unauthorized" in captured.err  # DownloadError and "KAGGLE_KEY" in captured.err
    assert secret not in captured.err and secret not in captured.out and "***" in captured.err
    with pytest.raises(DownloadError) as caught:
        main(["--debug", "download", "--dataset", "retina", "--data-dir", str(tmp_path)])
    assert secret not in str(caught.value) and caught.value.__cause__ is None and caught.value.__suppress_context__


# --- 20: ImageNet weights unavailable ---------------------------------------------------------------------


def test_unavailable_imagenet_weights_remove_a_damaged_file_and_name_weights_none(tmp_path, monkeypatch):
    import keras

    from medcnn.models import backbones

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    models = tmp_path / "keras" / "models"
    models.mkdir(parents=True)
    half = models / backbones.BACKBONES["vgg16"].weights_file
    half.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 1000)  # what a download cut off after a few bytes leaves

    def unreachable(*arguments, **keywords):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] Temporary failure")

    monkeypatch.setattr(keras.applications.vgg16, "VGG16", unreachable)
    with pytest.raises(DownloadError) as caught:
        backbones.get_backbone("vgg16").build(input_size=32, weights="imagenet")
    message = str(caught.value)
    assert "ImageNet weights of vgg16" in message and "--weights none" in message
    assert f"a damaged copy ({half}) was removed" in message
    assert not half.exists()


def test_good_weights_files_are_kept(tmp_path):
    from medcnn.models import backbones

    folder = tmp_path / "models"
    folder.mkdir()
    assert backbones.remove_damaged_weights("resnet50", folder=folder) is None  # nothing there
    (folder / backbones.BACKBONES["resnet50"].weights_file).write_bytes(b"half")
    assert backbones.remove_damaged_weights("resnet50", folder=folder) == folder / backbones.BACKBONES["resnet50"].weights_file


# --- 23: train --resume through the command line ------------------------------------------------------


def test_cli_resume_continues_a_killed_run(tmp_path, capsys, monkeypatch):
    import os
    import signal

    import keras

    from medcnn.datasets import get_dataset

    root = get_dataset("covid19").write_synthetic(tmp_path / "data", per_class=6, seed=0)
    common = ["train", "--dataset", "covid19", "--root", str(root), "--batch-size", "4", "--verbose", "0",
              "--learning-rate", "0.0005"]
    assert main(common + ["--epochs", "3", "--out", str(tmp_path / "whole")]) == 0

    class Kill(keras.callbacks.Callback):
        """A SIGTERM after the second epoch (``kill``, a cluster's time limit): handled as Ctrl-C (issue 23)."""

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGTERM)

    original_fit = keras.Model.fit

    def fit(self, *arguments, callbacks=None, **keywords):
        return original_fit(self, *arguments, callbacks=list(callbacks) + [Kill()], **keywords)

    monkeypatch.setattr(keras.Model, "fit", fit)
    assert main(common + ["--epochs", "3", "--out", str(tmp_path / "killed")]) == 143
    error = capsys.readouterr().err
    assert "medcnn train: terminated (SIGTERM); nothing half-written is kept" in error and "--resume" in error
    assert not (tmp_path / "killed" / "model.keras").exists()
    assert not [path.name for path in (tmp_path / "killed").iterdir() if ".partial" in path.name]
    monkeypatch.setattr(keras.Model, "fit", original_fit)
    assert main(common + ["--epochs", "3", "--resume", "--out", str(tmp_path / "killed")]) == 0
    whole = pd.read_csv(tmp_path / "whole" / "history.csv")
    resumed = pd.read_csv(tmp_path / "killed" / "history.csv")
    pd.testing.assert_frame_equal(resumed, whole, rtol=1e-4, atol=1e-5)
    assert json.loads((tmp_path / "killed" / "metrics.json").read_text())["accuracy"] == pytest.approx(
        json.loads((tmp_path / "whole" / "metrics.json").read_text())["accuracy"])
    # Resuming with other settings is refused before any work.
    assert main(common + ["--epochs", "3", "--learning-rate", "0.01", "--resume", "--out", str(tmp_path / "killed")]) == 2
    error = capsys.readouterr().err
    assert "cannot resume" in error and "learning_rate 0.0005 -> 0.01" in error


# --- 24, 25 and the command line's manners -------------------------------------------------------------------


def test_nan_loss_reaches_the_command_line_in_two_lines(tmp_path, capsys, monkeypatch):
    import medcnn.pipeline as pipeline
    from medcnn.training.callbacks import StopOnNaN
    from medcnn.training.compile import compile_classifier
    from medcnn.models.classifier import build_classifier

    guard = StopOnNaN()
    guard.set_model(compile_classifier(build_classifier("resnet50", 3, weights=None, input_size=32), learning_rate=0.1))

    def diverging(*arguments, **keywords):
        guard.on_epoch_end(2, {"loss": float("nan")})

    monkeypatch.setattr(pipeline, "train_and_evaluate", diverging)
    status = main(["train", "--dataset", "covid19", "--root", str(tmp_path / "data"), "--out", str(tmp_path / "run")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 7 and len(lines) == 2
    assert lines[0].startswith("medcnn train: TrainingError: loss became nan in epoch 3 at learning rate 0.1")
    assert "too high a learning rate; try 0.01" in lines[0]


def test_debug_shows_the_traceback(tmp_path, capsys):
    with pytest.raises(DataError, match="no such folder"):
        main(["--debug", "index", "--dataset", "retina", "--root", str(tmp_path / "absent"), "--out", str(tmp_path / "i.csv")])
    with pytest.raises(DataError, match="no such folder"):  # after the command, where people type it last
        main(["index", "--dataset", "retina", "--root", str(tmp_path / "absent"), "--out", str(tmp_path / "i.csv"), "--debug"])
    with pytest.raises(ConfigError, match="seeds"):  # so do the study's commands
        main(["study", "--dataset", "retina", "--stage", "1", "--seeds", "0", "--out", str(tmp_path / "s"), "--debug"])
    assert main(["index", "--dataset", "retina", "--root", str(tmp_path / "absent"), "--out", str(tmp_path / "i.csv")]) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in lines[0] and "python -m medcnn download --dataset retina" in lines[0]


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (["--batch-size", "0"], "batch_size=0: expected a whole number from 1"),
        (["--learning-rate", "-0.001"], "learning_rate=-0.001: expected a finite positive number"),
        (["--backbone", "inceptionv3", "--image-size", "64"], "image_size=64: inceptionv3 needs at least 75 px"),
        (["--image-size", "16"], "image_size=16: vgg16 needs at least 32 px"),
    ],
)
def test_impossible_settings_are_rejected_before_any_work(arguments, expected, tmp_path, capsys):
    root = tmp_path / "data"
    status = main(["train", "--dataset", "covid19", "--root", str(root), "--out", str(tmp_path / "run")] + arguments)
    assert status == 2 and expected in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not root.exists()


def test_unknown_names_list_the_valid_choices():
    from medcnn.config import RunConfig

    with pytest.raises(ConfigError, match="expected one of brain_tumor, covid19, retina, folder"):
        RunConfig(dataset="mnist").resolved()
    with pytest.raises(ConfigError, match="expected one of vgg16, resnet50, inceptionv3"):
        RunConfig(backbone="alexnet").resolved()


def test_batch_larger_than_the_training_subset_is_clamped_with_one_line(image_folder, tmp_path):
    from medcnn.data import make_batches

    root, manifest = image_folder
    cache = build_cache(manifest, root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train, _, _ = make_batches(cache, num_classes=2, batch_size=64)
    messages = [str(warning.message) for warning in caught]
    assert messages == ["batch_size=64 is larger than the 4 training images; using 4"]
    assert train.batch_size == 4


def test_a_mat_without_a_patient_id_is_named_by_the_index(tmp_path):
    import h5py

    from medcnn.datasets import brain_tumor
    from medcnn.images.matlab import write_mat_record

    write_mat_record(tmp_path / "1.mat", label=1, patient_id="MR1", image=np.ones((4, 4)))
    with h5py.File(tmp_path / "2.mat", "w", userblock_size=512) as handle:
        struct = handle.create_group("cjdata")
        struct["label"] = np.array([[2.0]])
        struct["image"] = np.ones((4, 4), np.int16)
    with pytest.raises(DataError, match=r"2.mat: 'cjdata' has no field 'PID'; the file is incomplete"):
        brain_tumor.index(tmp_path)
