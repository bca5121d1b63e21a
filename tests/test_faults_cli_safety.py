"""Nothing lost, whatever the command line says (issue 23): each hostile case gives its exit status and a message.

Every case here is cheap: tiny synthetic data, no training, except one tiny run stopped by
SIGTERM. Cases that need a real device file use ``/dev/null`` only as an output that must be
refused (it is never written).
"""

import os
import socket
import stat
import time

import numpy as np
import pytest
from PIL import Image

from medcnn.cli import main


def _one_message(capsys, status, expected_status, *names):
    error = capsys.readouterr().err
    assert status == expected_status, error
    assert "Traceback" not in error and len(error.strip().splitlines()) == 2, error
    assert "np.float64" not in error and "np.int64" not in error, error
    for name in names:
        assert str(name) in error, error
    return error


def _tree(folder):
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*"))


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory):
    from medcnn.datasets import get_dataset

    return get_dataset("folder").write_synthetic(tmp_path_factory.mktemp("data") / "folder", per_class=6, seed=0)


def _train(root, out, *extra):
    return ["train", "--dataset", "folder", "--root", str(root), "--epochs", "1", "--image-size", "32",
            "--batch-size", "4", "--verbose", "0", *extra, "--out", str(out)]


# --- --overwrite removes only a run folder medcnn marked -----------------------------------------------------


def test_overwrite_of_the_dataset_root_or_a_folder_around_it_removes_nothing(dataset_root, capsys):
    before = _tree(dataset_root)
    _one_message(capsys, main(_train(dataset_root, dataset_root, "--overwrite")), 2, "is the dataset folder")
    _one_message(capsys, main(_train(dataset_root, dataset_root.parent, "--overwrite")), 2, "holds the dataset folder")
    _one_message(capsys, main(_train(dataset_root, dataset_root / "runs" / "a")), 2, "inside the dataset folder")
    assert _tree(dataset_root) == before


def test_overwrite_of_a_folder_without_the_run_mark_says_what_is_there_and_removes_nothing(dataset_root, tmp_path,
                                                                                           capsys):
    images = tmp_path / "my-images"
    images.mkdir()
    for number in range(3):
        Image.fromarray(np.full((4, 4), number, np.uint8)).save(images / f"scan-{number}.png")
    (images / ".medcnn-cache").mkdir()
    error = _one_message(capsys, main(_train(dataset_root, images, "--overwrite")), 2, images, ".medcnn-run.json",
                         "3 image(s)", "an image cache", "Nothing was removed")
    assert "scan-0.png" in error
    assert len(list(images.iterdir())) == 4
    legacy = tmp_path / "old-run"  # a run written before run folders were marked: not emptied either
    legacy.mkdir()
    (legacy / "config.json").write_text("{}")
    _one_message(capsys, main(_train(dataset_root, legacy, "--overwrite")), 2, "before run folders were marked")
    assert (legacy / "config.json").is_file()


def test_overwrite_empties_a_marked_run_folder_and_sweeps_stale_partial_files(dataset_root, tmp_path, capsys):
    from medcnn.config import RunConfig
    from medcnn.run_folder import RUN_MARKER, claim_run_folder

    config = RunConfig(dataset="folder", epochs=1, image_size=32, batch_size=4).resolved()
    run = tmp_path / "run"
    claim_run_folder(run, config, root=dataset_root)
    assert (run / RUN_MARKER).is_file()
    (run / "history.csv").write_text("epoch,loss\n1,0.5\n")
    (run / "figures").mkdir()
    (run / ".resume.npz.999999999.partial").write_bytes(bytes(1000))  # left by a SIGKILLed run
    claim_run_folder(run, RunConfig(dataset="folder", epochs=2, image_size=32, batch_size=4).resolved(),
                     root=dataset_root, overwrite=True)
    printed = capsys.readouterr().out
    assert "removed 1 partial file(s) left by a killed run" in printed and "--overwrite: removing" in printed
    assert [path.name for path in run.iterdir()] == [RUN_MARKER]


def test_resume_with_overwrite_is_refused_before_anything(dataset_root, tmp_path, capsys):
    out = tmp_path / "run"
    _one_message(capsys, main(_train(dataset_root, out, "--resume", "--overwrite")), 2, "contradict")
    assert not out.exists()


def test_a_run_that_failed_its_data_check_does_not_block_a_rerun_with_other_settings(tmp_path, capsys):
    root = tmp_path / "data"
    (root / "only-class").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "only-class" / "a.png")
    out = tmp_path / "run"
    for epochs in ("1", "3"):  # the second run has other settings: refused as "another run" before issue 23
        arguments = _train(root, out)
        arguments[arguments.index("--epochs") + 1] = epochs
        _one_message(capsys, main(arguments), 3, "only one class")  # the data's error, not "holds another run"
        # the folder is claimed only after the data's checks: a failed run writes no record, no mark
        assert not out.exists() or not any(out.iterdir()), sorted(path.name for path in out.iterdir())


# --- outputs replace only regular files --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["character device", "FIFO", "socket"])
def test_an_output_that_is_a_device_fifo_or_socket_is_refused_naming_its_kind(kind, dataset_root, tmp_path, capsys):
    if kind == "character device":
        target = "/dev/null"
    elif kind == "FIFO":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    else:
        target = tmp_path / "socket"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
    before = os.lstat(target).st_mode
    arguments = ["index", "--dataset", "folder", "--root", str(dataset_root), "--out", str(target)]
    _one_message(capsys, main(arguments), 6, target, kind, "only replaces regular files")
    assert os.lstat(target).st_mode == before and not stat.S_ISREG(before)


def test_a_symbolic_link_as_an_output_file_is_refused_and_a_linked_run_folder_followed(dataset_root, tmp_path, capsys):
    from medcnn.files import atomic_path, check_writable

    real = tmp_path / "real.csv"
    real.write_text("kept")
    link = tmp_path / "index.csv"
    link.symlink_to(real)
    arguments = ["index", "--dataset", "folder", "--root", str(dataset_root), "--out", str(link)]
    _one_message(capsys, main(arguments), 6, link, "is a symbolic link", "does not write through it", real)
    assert link.is_symlink() and real.read_text() == "kept"
    with pytest.raises(Exception, match="symbolic link"):  # the library's writes refuse it too
        with atomic_path(link) as temporary:
            temporary.write_text("x")
    assert link.is_symlink() and real.read_text() == "kept"
    folder = tmp_path / "runs-on-big-disk"
    folder.mkdir()
    (tmp_path / "runs").symlink_to(folder)
    check_writable(tmp_path / "runs", what="the run folder", folder=True)
    assert f"goes into the folder it points to, {folder}" in capsys.readouterr().out


# --- exit statuses: out of memory, paths ------------------------------------------------------------------------


def test_out_of_memory_from_tensorflow_exits_8_with_the_advice(monkeypatch, capsys):
    import tensorflow as tf

    import medcnn.cli as cli

    failures = [tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[64,224,224,64]"),
                MemoryError()]
    for failure in failures:
        kind, message, status = cli.describe_failure(failure, command="train")
        assert status == 8 and "out of memory" in message and "--batch-size" in message and "--image-size" in message

    def fail(arguments):  # through the command line: one message, exit 8
        raise failures[0]

    monkeypatch.setattr(cli, "command_cite", fail)
    _one_message(capsys, main(["cite", "--dataset", "retina"]), 8, "out of memory", "ResourceExhaustedError")


def test_out_of_memory_from_jax_exits_8_with_the_advice():
    jax_errors = pytest.importorskip("jax.errors")  # JAX is an extra, installed beside the TensorFlow pass in CI

    import medcnn.cli as cli

    error = jax_errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 2.00GiB.")
    kind, message, status = cli.describe_failure(error, command="train")
    assert status == 8 and "JAX" in message and "--batch-size" in message and "--image-size" in message
    assert cli.out_of_memory(jax_errors.JaxRuntimeError("INTERNAL: something else")) == ""


def test_a_home_folder_that_does_not_exist_is_a_setting_error_naming_the_path(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MEDCNN_DATA_DIR", "~nosuchuser-medcnn/x")
    arguments = ["index", "--dataset", "retina", "--out", str(tmp_path / "i.csv")]
    _one_message(capsys, main(arguments), 2, "MEDCNN_DATA_DIR", "~nosuchuser-medcnn/x", "full path")
    arguments = ["index", "--dataset", "retina", "--root", "~nosuchuser-medcnn/r", "--out", str(tmp_path / "i.csv")]
    _one_message(capsys, main(arguments), 2, "--root", "~nosuchuser-medcnn/r")


def test_a_link_loop_or_a_file_where_the_data_folder_belongs_is_named(tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    index = ["index", "--dataset", "retina", "--out", str(tmp_path / "i.csv")]
    _one_message(capsys, main([*index, "--root", str(loop)]), 6, loop, "symbolic link", "loop")
    a_file = tmp_path / "data.zip"
    a_file.write_bytes(b"PK")
    _one_message(capsys, main([*index, "--root", str(a_file)]), 6, a_file, "a regular file, not a folder")
    # download names the file before any network (it used to end with Kaggle-token advice, exit 4)
    _one_message(capsys, main(["download", "--dataset", "retina", "--data-dir", str(a_file)]), 6, a_file,
                 "not a folder")
    _one_message(capsys, main(["download", "--dataset", "retina", "--data-dir", str(loop)]), 6, loop, "loop")


# --- SIGTERM is Ctrl-C: the resume state stays, exit 143 -----------------------------------------------------------


def test_sigterm_is_handled_as_ctrl_c_nothing_half_written_and_exits_143(monkeypatch, tmp_path, capsys):
    """SIGTERM in the middle of a write: the partial file is removed, one message, 143. (A training stopped by
    SIGTERM, and resumed to the same history, is ``test_faults.py::test_cli_resume_continues_a_killed_run``.)"""
    import signal

    import medcnn.cli as cli
    from medcnn.files import atomic_path

    target = tmp_path / "table.csv"

    def killed_while_writing(arguments):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
        return 0

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cli, "command_cite", killed_while_writing)
    started = time.monotonic()
    status = main(["cite", "--dataset", "retina"])
    assert status == 143 and capsys.readouterr().err == (
        "medcnn cite: terminated (SIGTERM); nothing half-written is kept\n")
    assert time.monotonic() - started < 4
    assert list(tmp_path.iterdir()) == [] and signal.getsignal(signal.SIGTERM) == before

    def interrupted(arguments):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "command_cite", interrupted)
    assert main(["cite", "--dataset", "retina"]) == 130
    assert capsys.readouterr().err == "medcnn cite: interrupted; nothing half-written is kept\n"


def test_the_exit_code_table_lists_sigterm_and_out_of_memory(capsys):
    from pathlib import Path

    with pytest.raises(SystemExit):
        main(["--help"])
    printed = capsys.readouterr().out
    assert "143  terminated (SIGTERM)" in printed and "8  out of memory" in printed
    architecture = (Path(__file__).parents[1] / "docs" / "ARCHITECTURE.md").read_text()
    assert "| 143 | terminated (SIGTERM)" in architecture
    from medcnn.errors import EXIT_CODES

    table = architecture.split("## Every failure is a message")[1].split("\n## ")[0]
    assert [row.split("|")[1].strip() for row in table.splitlines() if row[:3] in ("| 1", "| 2", "| 3", "| 4", "| 5",
            "| 6", "| 7", "| 8", "| 0")] == [str(status) for status, _ in EXIT_CODES]  # the same statuses, in order


# --- images: bombs, EXIF -----------------------------------------------------------------------------------------


def test_an_image_over_the_decompression_bomb_limit_says_so_with_the_limit_and_how_to_raise_it(tmp_path,
                                                                                              monkeypatch):
    from medcnn.errors import DataError
    from medcnn.images.decode import read_image

    path = tmp_path / "huge.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1,600 pixels is over twice the limit, as 20000x20000 is
    with pytest.raises(DataError) as caught:
        read_image(path)
    message = str(caught.value)
    assert "1,600 pixels" in message and "decompression-bomb limit of 200 pixels" in message
    assert "PIL.Image.MAX_IMAGE_PIXELS = 1600" in message and "damaged or truncated" not in message


def test_exif_orientation_is_applied_as_viewers_show_it_and_said_once(tmp_path, monkeypatch, capsys):
    import medcnn.images.decode as decode

    monkeypatch.setattr(decode, "_orientation_said", False)
    pixels = np.zeros((2, 6, 3), np.uint8)
    pixels[:, 0] = 255  # the left column is white as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: viewers rotate it 90 degrees clockwise
    for name in ("a.png", "b.png"):
        Image.fromarray(pixels).save(tmp_path / name, exif=exif)
    first = decode.read_image(tmp_path / "a.png")
    assert first.shape == (6, 2, 3)
    assert first[0].min() == 255 and first[-1].max() == 0  # the white column is now the top row
    decode.read_image(tmp_path / "b.png")
    assert capsys.readouterr().out.count("EXIF orientation") == 1


# --- dataset folders: litter, copies, names -----------------------------------------------------------------------


def _image(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, np.uint8)).save(path)


def test_os_litter_is_skipped_everywhere_and_listed_once(tmp_path, capsys):
    from medcnn.datasets import get_dataset

    root = tmp_path / "data"
    for label, name in enumerate(("benign", "malignant")):
        for number in range(2):
            _image(root / name / f"{number}.png", 10 * label + number)
    _image(root / "__MACOSX" / "benign" / "._0.png", 99)
    for litter in (".DS_Store", "benign/Thumbs.db", "malignant/desktop.ini"):
        (root / litter).write_bytes(b"litter")
    index = get_dataset("folder").index(root)
    assert sorted(set(index["class_name"])) == ["benign", "malignant"] and len(index) == 4
    lines = [line for line in capsys.readouterr().out.splitlines() if "operating-system" in line]
    assert len(lines) == 1 and "4 operating-system file(s)" in lines[0] and "__MACOSX/" in lines[0]


def test_identical_images_are_kept_once_or_refused_when_their_labels_differ(tmp_path, capsys):
    import shutil

    from medcnn.datasets import get_dataset
    from medcnn.errors import DataError

    covid = get_dataset("covid19")
    root = covid.write_synthetic(tmp_path / "covid", per_class=3, seed=0, image_size=16)
    alone = len(covid.index(root))
    capsys.readouterr()
    copy = tmp_path / "covid-twice"  # a second copy of the extracted tree beside the first
    shutil.copytree(root, copy / "first")
    shutil.copytree(root, copy / "second")
    index = covid.index(copy)
    printed = capsys.readouterr().out
    assert len(index) == alone and f"{alone} image(s) are byte-for-byte copies" in printed
    assert "second/" in printed and " = first/" in printed
    folder = tmp_path / "folder"
    _image(folder / "benign" / "a.png", 1)
    _image(folder / "benign" / "b.png", 2)
    _image(folder / "malignant" / "c.png", 3)
    shutil.copy(folder / "benign" / "a.png", folder / "malignant" / "a-copy.png")
    with pytest.raises(DataError, match=r"1 image\(s\) have the same bytes .* malignant/a-copy.png .* benign/a.png"):
        get_dataset("folder").index(folder)


def _retina(root, ids, names=None, risk="0"):
    folder = root / "Training_Set" / "Training_Set"
    (folder / "Training").mkdir(parents=True)
    rows = "".join(f"{identifier},{risk}\n" for identifier in ids)
    (folder / "RFMiD_Training_Labels.csv").write_text("ID,Disease_Risk\n" + rows)
    for number, name in enumerate(names or [f"{identifier}.png" for identifier in ids]):
        _image(folder / "Training" / name, number)
    return folder


@pytest.mark.parametrize("bad, shown", [("1e23", "ID=1e+23"), ("abc", "ID='abc'"), ("", "ID=nan")])
def test_retina_ids_that_cannot_be_numbers_are_bad_rows(bad, shown, tmp_path):
    from medcnn.datasets import get_dataset
    from medcnn.errors import DataError

    _retina(tmp_path, ["1", bad], names=["1.png", "2.png"])
    with pytest.raises(DataError) as caught:
        get_dataset("retina").index(tmp_path)
    message = str(caught.value)
    assert "1 bad row(s): row 3" in message and shown in message and "expected a whole number" in message
    assert "np." not in message and "-9223372036854775808" not in message


def test_retina_image_names_matching_no_pattern_are_named_not_called_a_failed_download(tmp_path):
    from medcnn.datasets import get_dataset
    from medcnn.errors import DataError

    _retina(tmp_path, ["1", "2"], names=["001.png", "002.png"])
    with pytest.raises(DataError) as caught:
        get_dataset("retina").index(tmp_path)
    message = str(caught.value)
    assert "2 image name(s) match no RFMiD name" in message and "rename 001.png to 1.png" in message
    assert "download" not in message


# --- study-merge of nothing ------------------------------------------------------------------------------------


def test_study_merge_refuses_an_empty_or_mistyped_folder(tmp_path, capsys):
    empty = tmp_path / "shard1"
    empty.mkdir()
    (empty / "notes.txt").write_text("")
    out = tmp_path / "merged"
    _one_message(capsys, main(["study-merge", "--out", str(out), str(empty)]), 3, empty, "without results.csv",
                 "notes.txt")
    _one_message(capsys, main(["study-merge", "--out", str(out), str(tmp_path / "shard-1")]), 3, "shard-1",
                 "no such results table")
    from medcnn.experiments.results import CONFIG_COLUMNS, ID_COLUMNS, METRIC_COLUMNS, RUN_COLUMNS

    table = tmp_path / "shard2" / "results.csv"  # a study that ran nothing: the header only
    table.parent.mkdir()
    table.write_text(",".join(dict.fromkeys(CONFIG_COLUMNS + ID_COLUMNS + METRIC_COLUMNS + RUN_COLUMNS)) + "\n")
    _one_message(capsys, main(["study-merge", "--out", str(out), str(table)]), 3, "nothing to merge", "hold no runs")
    assert not (out / "results.csv").exists()


def test_messages_print_plain_numbers():
    import pandas as pd

    from medcnn.datasets.base import check_index
    from medcnn.errors import DataError, plain

    assert (plain(np.float64("nan")), plain(np.int64(7)), plain(np.float32(0.5))) == ("nan", "7", "0.5")
    frame = pd.DataFrame({"path": ["a/1.png"], "label": [0], "class_name": ["a"], "patient_id": [""], "split": [""]})
    with pytest.raises(DataError) as caught:
        check_index(frame, root="/nowhere", dataset="folder", class_names=("a", "b"), layout="<root>/<class>/*.png")
    assert "{'a': 1}" in str(caught.value) and "np.int64" not in str(caught.value)
