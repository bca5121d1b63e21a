"""Hardening (issue 15): every failure is a message with an exit status of its kind, checked before work.

Full and read-only disks are simulated at the write calls (``os.open``, ``open``, ``os.mkdir``,
``os.replace``) for paths under one folder, with monkeypatch: the tests run as root, where a
chmod-based read-only folder does not stop writes, and mounting a small file system needs
privileges CI does not have.
"""

import builtins
import errno
import io
import os
import zlib

import pytest

from medcnn.cli import main

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT


@pytest.fixture
def failing_writes(monkeypatch):
    """``failing_writes(folder, code, at="all"|"rename")``: writes under ``folder`` fail with ``code``.

    ``at="all"`` fails every write call (opening for writing, making a folder, renaming);
    ``at="rename"`` only the rename that puts a finished file in place, so a check made
    before the work passes and the failure comes from the real write.
    """

    def install(folder, code, at="all"):
        folder = os.path.abspath(folder)

        def inside(path):
            try:
                return os.path.abspath(os.fspath(path)).startswith(folder)
            except TypeError:
                return False

        def fail(path):
            raise OSError(code, os.strerror(code), os.fspath(path))

        real_replace, real_open, real_os_open, real_mkdir = os.replace, builtins.open, os.open, os.mkdir

        def replace(source, target, *args, **kwargs):
            if inside(target):
                fail(target)
            return real_replace(source, target, *args, **kwargs)

        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(os, "rename", replace)
        if at == "rename":
            return

        def open_(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and any(flag in mode for flag in "wax+") and inside(file):
                fail(file)
            return real_open(file, mode, *args, **kwargs)

        def os_open(path, flags, *args, **kwargs):
            if flags & WRITE_FLAGS and inside(path):
                fail(path)
            return real_os_open(path, flags, *args, **kwargs)

        def mkdir(path, *args, **kwargs):
            if inside(path):
                fail(path)
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(os, "mkdir", mkdir)

    return install


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory):
    from medcnn.datasets import get_dataset

    return get_dataset("folder").write_synthetic(tmp_path_factory.mktemp("data") / "folder", per_class=6, seed=0)


def _one_message(capsys, status, expected_status, *names):
    error = capsys.readouterr().err
    assert status == expected_status, error
    assert "Traceback" not in error and len(error.strip().splitlines()) == 2, error
    for name in names:
        assert str(name) in error, error
    return error


def _commands(root, out, tables):
    """Each writing command, pointed at ``out``."""
    common = ["--dataset", "folder", "--root", str(root)]
    return {
        "index": ["index", *common, "--out", str(out / "index.csv")],
        "split": ["split", *common, "--out", str(out / "manifest.csv")],
        "train": ["train", *common, "--epochs", "1", "--verbose", "0", "--out", str(out / "run")],
        "study": ["study", "--dataset", "retina", "--stage", "1", "--data-dir", str(out / "data"), "--out",
                  str(out / "study")],
        "study-merge": ["study-merge", "--out", str(out / "merged"), *map(str, tables)],
    }


@pytest.fixture
def shard_tables(tmp_path):
    header = "dataset,stage,backbone\n"
    tables = []
    for number in range(2):
        path = tmp_path / f"shard{number}" / "results.csv"
        path.parent.mkdir()
        path.write_text(header)
        tables.append(path)
    return tables


@pytest.mark.parametrize("command", ["index", "split", "train", "study", "study-merge"])
@pytest.mark.parametrize("code, status, words", [(errno.ENOSPC, 5, "disk full"),
                                                 (errno.EROFS, 6, "read-only file system")])
def test_full_or_read_only_output_is_one_message_before_any_work(command, code, status, words, dataset_root, tmp_path,
                                                                 shard_tables, failing_writes, capsys):
    out = tmp_path / "out"
    arguments = _commands(dataset_root, out, shard_tables)[command]
    failing_writes(out, code)
    error = _one_message(capsys, main(arguments), status, out)
    assert words in error and "--out" in error
    assert not out.exists()


@pytest.mark.parametrize("command", ["index", "split"])
@pytest.mark.parametrize("code, status, words", [(errno.ENOSPC, 5, "disk full"), (errno.EACCES, 6, "permission denied")])
def test_a_write_that_fails_after_the_check_names_the_file_not_its_temporary_name(command, code, status, words,
                                                                                  dataset_root, tmp_path, shard_tables,
                                                                                  failing_writes, capsys):
    out = tmp_path / "out"
    arguments = _commands(dataset_root, out, shard_tables)[command]
    failing_writes(out, code, at="rename")
    error = _one_message(capsys, main(arguments), status, out)
    assert words in error and ".partial" not in error.replace("nothing half-written", "")
    assert [path.name for path in out.iterdir()] == []


def test_an_out_that_is_a_file_or_lies_under_one_is_named(dataset_root, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status = main(["train", "--dataset", "folder", "--root", str(dataset_root), "--out", str(blocker)])
    error = _one_message(capsys, status, 6, blocker)
    assert "needs a folder here, but this is a file" in error
    status = main(["index", "--dataset", "folder", "--root", str(dataset_root), "--out", str(blocker / "x" / "i.csv")])
    error = _one_message(capsys, status, 6, blocker)
    assert "a file where a folder is expected" in error
    assert blocker.read_text() == "not a folder"


def test_an_unexpected_exception_is_an_internal_error_with_how_to_report_it(monkeypatch, capsys, tmp_path):
    import medcnn.datasets.folder as folder

    def broken(root, **options):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    monkeypatch.setattr(folder, "index", broken)
    status = main(["index", "--dataset", "folder", "--root", str(tmp_path), "--out", str(tmp_path / "i.csv")])
    error = _one_message(capsys, status, 70, "internal error", "TypeError: unsupported operand")
    assert "--debug" in error and "report" in error
    with pytest.raises(TypeError):
        main(["--debug", "index", "--dataset", "folder", "--root", str(tmp_path), "--out", str(tmp_path / "i.csv")])


def test_a_library_error_about_a_damaged_file_is_a_data_error(monkeypatch, capsys, tmp_path):
    import medcnn.datasets.folder as folder

    def damaged(root, **options):
        zlib.decompress(b"not a deflate stream")

    monkeypatch.setattr(folder, "index", damaged)
    status = main(["index", "--dataset", "folder", "--root", str(tmp_path), "--out", str(tmp_path / "i.csv")])
    _one_message(capsys, status, 3, "damaged", "zlib.error")


def test_help_lists_the_exit_statuses(capsys):
    from medcnn.errors import EXIT_CODES

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "exit status:" in text
    for status, meaning in EXIT_CODES:
        assert f"{status:>3}  {meaning}" in text
    assert len({status for status, _ in EXIT_CODES}) == len(EXIT_CODES)


# --- (2) check before working: every number in range, enough data for the split ----------------------


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--seed", "-1", "seed=-1: expected a whole number from 0 to 4294967295"),
        ("--seed", str(2**32), "seed=4294967296"),
        ("--epochs", "0", "epochs=0: expected a whole number of epochs from 1"),
        ("--learning-rate", "nan", "learning_rate=nan: expected a finite positive number"),
        ("--learning-rate", "inf", "learning_rate=inf: expected a finite positive number"),
        ("--learning-rate", "0", "learning_rate=0.0: expected a finite positive number"),
        ("--learning-rate", "1e6", "learning_rate=1000000.0: expected at most 10"),
        ("--batch-size", "-3", "batch_size=-3: expected a whole number from 1"),
        ("--image-size", "4096", "image_size=4096: expected a whole number of pixels up to 1024"),
        ("--image-size", "8", "image_size=8: vgg16 needs at least 32 px"),
    ],
)
def test_train_refuses_every_number_out_of_range_and_leaves_the_output_as_it_was(option, value, expected, dataset_root,
                                                                                 tmp_path, capsys):
    out = tmp_path / "run"
    status = main(["train", "--dataset", "folder", "--root", str(dataset_root), option, value, "--out", str(out)])
    _one_message(capsys, status, 2, expected)
    assert not out.exists() and not (dataset_root / ".medcnn-cache").exists()


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (["split", "--seed", "-5"], "seed=-5: expected a whole number from 0"),
        (["synth", "--per-class", "0"], "--per-class 0: expected a whole number from 1"),
        (["synth", "--seed", "-1"], "--seed -1: expected a whole number from 0"),
        (["study", "--stage", "1", "--seeds", "0"], "--seeds 0: expected a whole number from 1"),
        (["study", "--stage", "1", "--epochs", "0"], "epochs=0"),
        (["study", "--stage", "1", "--image-size", "40"], "image_size=40: inceptionv3 needs at least 75 px"),
    ],
)
def test_other_commands_refuse_numbers_out_of_range(arguments, expected, dataset_root, tmp_path, capsys):
    out = tmp_path / "out"
    command, *options = arguments
    if command == "split":
        arguments = [command, "--dataset", "folder", "--root", str(dataset_root), *options, "--out", str(out / "m.csv")]
    elif command == "synth":
        arguments = [command, "--dataset", "folder", *options, "--root", str(out)]
    else:
        arguments = [command, "--dataset", "retina", *options, "--data-dir", str(out), "--out", str(out)]
    _one_message(capsys, main(arguments), 2, expected)
    assert not out.exists()


def test_a_split_names_what_the_splitter_needs_and_a_single_class_is_refused(tmp_path, capsys):
    from medcnn.datasets import get_dataset

    root = get_dataset("folder").write_synthetic(tmp_path / "small", per_class=3, seed=0)
    out = tmp_path / "m.csv"
    status = main(["split", "--dataset", "folder", "--root", str(root), "--strategy", "stratified", "--out", str(out)])
    error = _one_message(capsys, status, 3, "too few", "at least one image per class")
    assert "--per-class" in error and not out.exists()
    import pandas as pd

    from medcnn.splits import make_splits

    with pytest.raises(Exception, match="at least two classes"):
        make_splits(pd.DataFrame({"path": ["a", "b", "c"], "label": [0, 0, 0]}), strategy="stratified")


# --- (4) one run per run folder -------------------------------------------------------------------


def _record_run(folder, config, root):
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".medcnn-run.json").write_text(json.dumps({"medcnn_run": 1}))  # the mark of a folder medcnn claimed
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    (folder / "run.json").write_text(json.dumps({"root": str(root.resolve()), "cache_dir": None}))


def _train(root, out, *extra):
    return ["train", "--dataset", "folder", "--root", str(root), "--epochs", "1", "--image-size", "32",
            "--batch-size", "4", "--verbose", "0", *extra, "--out", str(out)]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, dataset_root):
    """One tiny training (1 epoch, 32 px), into a run folder an earlier run claimed: --overwrite clears it."""
    out = tmp_path_factory.mktemp("runs") / "finished"
    out.mkdir()
    (out / ".medcnn-run.json").write_text('{"medcnn_run": 1}')
    (out / "history.csv").write_text("epoch\n1\n")  # an earlier run's file
    assert main(_train(dataset_root, out, "--overwrite")) == 0
    return out


def test_overwrite_cleared_the_folder_before_training(finished_run):
    assert (finished_run / "model.keras").is_file() and (finished_run / ".medcnn-run.json").is_file()
    assert "loss" in (finished_run / "history.csv").read_text()


def test_an_out_holding_another_run_or_other_files_is_refused_and_left_as_it_was(dataset_root, tmp_path, capsys):
    from medcnn.config import RunConfig

    out = tmp_path / "run"
    _record_run(out, RunConfig(dataset="folder", epochs=3, image_size=32, batch_size=4).resolved(), dataset_root)
    (out / "history.csv").write_text("epoch,loss\n1,0.5\n")  # it trained: not a claim that stopped at its checks
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    error = _one_message(capsys, main(_train(dataset_root, out)), 2, out, "holds another run", "epochs 3 -> 1")
    assert "--overwrite" in error
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    stray = tmp_path / "home"
    stray.mkdir()
    (stray / "thesis.tex").write_text("months of work")
    _one_message(capsys, main(_train(dataset_root, stray)), 2, "not a medcnn run", "thesis.tex")
    assert (stray / "thesis.tex").read_text() == "months of work"


def test_resume_checks_the_data_root_and_refuses_a_damaged_record(dataset_root, tmp_path, capsys):
    from medcnn.config import RunConfig

    config = RunConfig(dataset="folder", epochs=1, image_size=32, batch_size=4).resolved()
    out = tmp_path / "run"
    _record_run(out, config, tmp_path / "another-copy")
    _one_message(capsys, main(_train(dataset_root, out, "--resume")), 2, "cannot resume", "data root")
    (out / "config.json").write_text('{"dataset": "folder", "epochs": ')  # truncated
    error = _one_message(capsys, main(_train(dataset_root, out, "--resume")), 3, out / "config.json", "damaged record")
    assert "--overwrite" in error
    _one_message(capsys, main(_train(dataset_root, out, "--resume", "--overwrite")), 2, "contradict")


@pytest.fixture
def run_copy(finished_run, tmp_path):
    import shutil

    return shutil.copytree(finished_run, tmp_path / "copy")


def test_evaluate_refuses_a_truncated_model_or_one_from_another_run(run_copy, capsys):
    model = run_copy / "model.keras"
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2])
    _one_message(capsys, main(["evaluate", "--run", str(run_copy)]), 3, model, "damaged model file")
    from medcnn.models.classifier import build_classifier

    build_classifier("vgg16", 2, weights=None, input_size=48).save(model)
    error = _one_message(capsys, main(["evaluate", "--run", str(run_copy)]), 3, model, "does not belong")
    assert "image_size 32" in error


@pytest.mark.parametrize("name", ["config.json", "run.json"])
def test_evaluate_refuses_a_truncated_record(name, run_copy, capsys):
    record = run_copy / name
    record.write_text(record.read_text()[:20])
    _one_message(capsys, main(["evaluate", "--run", str(run_copy)]), 3, record, "damaged record")


def test_evaluate_again_works_on_the_untouched_run(run_copy, capsys):
    assert main(["evaluate", "--run", str(run_copy)]) == 0


def _write_results_table(path, *, epochs=1):
    """Write a study's results table of one completed retina run (stage 1, accuracy 0.5) as ``path``."""
    import pandas as pd

    from medcnn.config import RunConfig
    from medcnn.experiments.results import config_id, setting_id

    config = RunConfig(dataset="retina", epochs=epochs).resolved()
    row = {**config.to_dict(), "config_id": config_id(config), "setting_id": setting_id(config), "stage": 1,
           "status": "completed", "accuracy": 0.5}
    path.parent.mkdir()
    pd.DataFrame([row]).to_csv(path, index=False)
    return path


def test_study_merge_refuses_tables_from_runs_with_other_settings(tmp_path, capsys):
    tables = [str(_write_results_table(tmp_path / f"shard{epochs}" / "results.csv", epochs=epochs))
              for epochs in (1, 2)]
    out = tmp_path / "merged"
    error = _one_message(capsys, main(["study-merge", "--out", str(out), *tables]), 3, "different settings",
                         "epochs 1 vs 2")
    assert tables[0] in error and tables[1] in error and not (out / "results.csv").exists()


# --- (5) archives with limits ----------------------------------------------------------------------


def _index_brain(root, tmp_path):
    return ["index", "--dataset", "brain_tumor", "--root", str(root), "--out", str(tmp_path / "index.csv")]


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path, capsys):
    import zipfile

    root = tmp_path / "brain"
    root.mkdir()
    with zipfile.ZipFile(root / "brainTumorDataPublic_1-766.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("1.mat", bytes(64 * 2**20))  # 64 MB of zeros in about 64 KB
    error = _one_message(capsys, main(_index_brain(root, tmp_path)), 3, "1.mat", "zip bomb")
    assert "limit of 200x" in error
    assert sorted(path.name for path in root.iterdir()) == ["brainTumorDataPublic_1-766.zip"]


def test_an_archive_larger_than_the_free_space_is_refused(tmp_path, capsys, monkeypatch):
    import collections
    import shutil
    import zipfile

    root = tmp_path / "brain"
    root.mkdir()
    with zipfile.ZipFile(root / "brainTumorDataPublic_1-766.zip", "w") as archive:
        archive.writestr("1.mat", os.urandom(4096))
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))  # a full disk
    _one_message(capsys, main(_index_brain(root, tmp_path)), 5, "disk full", root)


def test_a_damaged_deflate_stream_names_the_member(tmp_path, capsys):
    import zipfile

    root = tmp_path / "brain"
    root.mkdir()
    path = root / "brainTumorDataPublic_1-766.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("1.mat", os.urandom(2000) + bytes(30000))
    data = bytearray(path.read_bytes())
    start = 30 + len("1.mat")  # the first member's data follows its local header
    for offset in range(start + 10, start + 60):
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
    error = _one_message(capsys, main(_index_brain(root, tmp_path)), 3, "'1.mat' is damaged", path)
    assert "download it again" in error and not (root / "brainTumorDataPublic_1-766").exists()


def test_an_archive_replaced_by_a_different_one_is_unpacked_again(tmp_path, capsys):
    import json

    from medcnn.datasets import get_dataset
    from medcnn.download.archives import UNPACKED_MARKER

    brain = get_dataset("brain_tumor")
    root = brain.write_synthetic(tmp_path / "brain", per_class=3, seed=0)
    other = brain.write_synthetic(tmp_path / "other", per_class=4, seed=1)
    assert main(_index_brain(root, tmp_path)) == 0
    marker = root / "1512427" / UNPACKED_MARKER
    before = json.loads(marker.read_text())["contents"]
    archive = root / "1512427.zip"
    stat = archive.stat()
    archive.write_bytes((other / "1512427.zip").read_bytes())
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old time: only the contents tell
    capsys.readouterr()
    assert main(_index_brain(root, tmp_path)) == 0
    output = capsys.readouterr().out
    assert "unpacking it again" in output and json.loads(marker.read_text())["contents"] != before
    assert "12 images indexed" in output


# --- (3) nothing read back is trusted blindly -------------------------------------------------------


def test_an_image_edited_in_place_with_its_size_and_time_restored_is_decoded_again(tmp_path):
    import numpy as np
    import pandas as pd
    from PIL import Image

    from medcnn.images.cache import build_cache

    root = tmp_path / "data"
    root.mkdir()
    image = root / "a.bmp"  # BMP: the same dimensions give the same file size whatever the pixels
    Image.fromarray(np.full((16, 16, 3), 10, np.uint8)).save(image)
    manifest = pd.DataFrame({"path": ["a.bmp"], "label": [0]})
    options = dict(root=root, image_size=16, cache_dir=tmp_path / "cache", progress=False)
    assert int(build_cache(manifest, **options).images[0, 0, 0, 0]) == 10
    stat = image.stat()
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(image)
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert image.stat().st_size == stat.st_size and image.stat().st_mtime_ns == stat.st_mtime_ns
    again = build_cache(manifest, **options)
    assert again.decoded == 1 and int(again.images[0, 0, 0, 0]) == 200


def test_a_truncated_image_cache_is_rebuilt_with_a_message(run_copy, dataset_root, capsys):
    cache_files = sorted((dataset_root / ".medcnn-cache").glob("images-32px-*.npy"))
    assert cache_files
    for path in cache_files:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    assert main(["evaluate", "--run", str(run_copy)]) == 0
    captured = capsys.readouterr()
    assert "damaged image cache" in captured.out and "rebuilding it" in captured.out and "Traceback" not in captured.err


def test_a_truncated_feature_cache_is_computed_again_with_a_message(tmp_path, capsys):
    import keras
    import numpy as np

    from medcnn.batches import ArrayBatches
    from medcnn.training.features import compute_features

    inputs = keras.Input((8, 8, 3))
    extractor = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))
    images = np.random.default_rng(0).integers(0, 255, (6, 8, 8, 3)).astype("uint8")
    batches = ArrayBatches(images, batch_size=2, shuffle=False, indices=np.arange(6))
    first = np.array(compute_features(extractor, batches, cache_dir=tmp_path))
    (path,) = tmp_path.glob("features-*.npy")
    path.write_bytes(path.read_bytes()[:100])
    again = compute_features(extractor, batches, cache_dir=tmp_path)
    assert "damaged feature cache" in capsys.readouterr().out
    np.testing.assert_allclose(np.array(again), first)


def test_a_truncated_resume_state_is_refused_with_a_message(dataset_root, tmp_path, capsys):
    import shutil

    from medcnn.config import RunConfig

    config = RunConfig(dataset="folder", epochs=1, image_size=32, batch_size=4).resolved()
    out = tmp_path / "run"
    _record_run(out, config, dataset_root)
    (out / "resume.npz").write_bytes(b"PK\x03\x04" + bytes(100))  # a zip cut short
    error = _one_message(capsys, main(_train(dataset_root, out, "--resume")), 3, out / "resume.npz", "truncated")
    assert "--overwrite" in error


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda lines: lines[:-1] + [lines[-1][: len(lines[-1]) // 2]], "fields, the header has"),
        (lambda lines: lines[:-1] + [lines[-1] + ",extra"], "fields, the header has"),
        (lambda lines: [lines[0], lines[1].replace("0.5", "half", 1)], "'half' is not a number"),
    ],
)
def test_a_damaged_results_table_is_named_with_its_line(edit, expected, tmp_path, capsys):
    path = _write_results_table(tmp_path / "shard" / "results.csv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    _one_message(capsys, main(["study-merge", "--out", str(tmp_path / "merged"), str(path)]), 3, path, "line 2",
                 expected)


def _edit_field(path, *, line, column, value):
    """Change one field of the CSV file ``path`` by hand: ``column`` on ``line`` (line 1 is the header)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    fields = lines[line - 1].split(",")
    fields[header.index(column)] = value
    lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


def test_a_hand_edited_manifest_is_named_with_its_line(run_copy, capsys):
    manifest = run_copy / "manifest.csv"
    _edit_field(manifest, line=4, column="label", value="glioma")
    _one_message(capsys, main(["evaluate", "--run", str(run_copy)]), 3, manifest, "line 4", "'glioma' is not a whole")


# --- (6) images that decode to nonsense, formats the readers skip ----------------------------------


def test_images_that_decode_to_nonsense_are_reported_like_unreadable_ones(tmp_path):
    import numpy as np
    import pandas as pd
    from PIL import Image

    from medcnn.errors import DataError
    from medcnn.images.cache import build_cache

    root = tmp_path / "data"
    root.mkdir()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(root / "good.png")
    nan = np.ones((8, 8), np.float32)
    nan[2, 3] = np.nan
    Image.fromarray(nan, mode="F").save(root / "nan.tif")
    infinite = np.ones((8, 8), np.float32)
    infinite[0, 0] = np.inf
    Image.fromarray(infinite, mode="F").save(root / "infinite.tif")
    Image.fromarray(np.full((8, 8), 1200, np.uint16)).save(root / "blank16.png")
    manifest = pd.DataFrame({"path": ["good.png", "nan.tif", "infinite.tif", "blank16.png"], "label": [0, 1, 0, 1]})
    options = dict(root=root, image_size=8, cache_dir=tmp_path / "cache", progress=False)
    with pytest.raises(DataError) as caught:
        build_cache(manifest, **options)
    message = str(caught.value)
    assert message.startswith("3 of 4 images cannot be read") and "--skip-bad" in message
    assert "nan.tif: 1 of 64 pixels are not a number or infinite" in message
    assert "infinite.tif: 1 of 64 pixels" in message and "blank16.png: every pixel is 1200" in message
    cache = build_cache(manifest, skip_bad=True, **options)
    assert cache.frame["path"].tolist() == ["good.png"] and len(cache.skipped) == 3


def test_files_in_formats_the_readers_skip_are_listed_once_with_the_reason(tmp_path, capsys):
    from medcnn.datasets import get_dataset

    root = get_dataset("folder").write_synthetic(tmp_path / "data", per_class=6, seed=0)
    class_folder = sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))[0]
    for name in ("scan-1.dcm", "scan-2.dcm", "animation.gif"):
        (class_folder / name).write_bytes(b"not read")
    (class_folder / "notes.txt").write_text("a note, not an image")
    status = main(["index", "--dataset", "folder", "--root", str(root), "--out", str(tmp_path / "index.csv")])
    output = capsys.readouterr().out
    assert status == 0
    lines = [line for line in output.splitlines() if "formats the readers do not decode" in line]
    assert len(lines) == 1 and str(class_folder) in lines[0]
    assert "skipped 3 file(s)" in lines[0] and "2 .dcm (DICOM, convert to PNG first)" in lines[0]
    assert "1 .gif" in lines[0] and "notes.txt" not in output


@pytest.mark.parametrize("option, value, expected", [
    ("--seed", "-1", "--seed -1: expected a whole number from 0"),
    ("--batch-size", "0", "--batch-size 0: expected a positive whole number"),
    ("--image-size", "5000", "--image-size 5000: expected at most 1024"),
    ("--epochs", "100000", "--epochs 100000: expected at most 10000"),
])
def test_bench_refuses_numbers_out_of_range(option, value, expected, capsys):
    _one_message(capsys, main(["bench", "--backbone", "vgg16", option, value]), 2, expected)


def test_a_library_io_error_without_an_errno_is_a_data_error(monkeypatch, capsys, tmp_path):
    import medcnn.datasets.folder as folder

    def unreadable(root, **options):
        raise OSError("Unable to open file (truncated file: eof = 96, sblock->base_addr = 0)")  # as h5py says it

    monkeypatch.setattr(folder, "index", unreadable)
    status = main(["index", "--dataset", "folder", "--root", str(tmp_path), "--out", str(tmp_path / "i.csv")])
    _one_message(capsys, status, 3, "input/output error", "truncated file")


def test_a_read_only_dataset_folder_names_the_cache_and_cache_dir_before_any_work(dataset_root, tmp_path,
                                                                                  failing_writes, capsys):
    out = tmp_path / "run"
    failing_writes(dataset_root, errno.EROFS)  # like Kaggle's /kaggle/input
    status = main(["train", "--dataset", "folder", "--root", str(dataset_root), "--epochs", "1", "--out", str(out)])
    error = _one_message(capsys, status, 6, dataset_root, "read-only file system", "--cache-dir")
    assert "/kaggle/working" in error and not out.exists()


def test_a_hand_edited_history_is_named_with_its_line(run_copy, capsys):
    history = run_copy / "history.csv"
    _edit_field(history, line=2, column="val_loss", value="low")
    _one_message(capsys, main(["evaluate", "--run", str(run_copy)]), 3, history, "line 2", "'low' is not a number")


def test_a_damaged_list_of_skipped_images_rebuilds_the_cache(tmp_path, capsys):
    import numpy as np
    import pandas as pd
    from PIL import Image

    from medcnn.images.cache import build_cache

    root = tmp_path / "data"
    root.mkdir()
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(root / "a.png")
    (root / "b.png").write_bytes(b"")
    manifest = pd.DataFrame({"path": ["a.png", "b.png"], "label": [0, 1]})
    options = dict(root=root, image_size=8, cache_dir=tmp_path / "cache", progress=False, skip_bad=True)
    build_cache(manifest, **options)
    (skipped,) = (tmp_path / "cache").glob("*-skipped.csv")
    skipped.write_bytes(b"\xff\xfe\x00garbage")
    again = build_cache(manifest, **options)
    assert "damaged list of skipped images" in capsys.readouterr().out
    assert again.decoded == 2 and again.frame["path"].tolist() == ["a.png"]
