"""Rehearse a Colab student's full run of the dataset chapters, here, without the network.

Everything the student runs, at the real image size (224 px, 299 px for
Inception-V3), in the ``full`` profile, except what needs the internet:

- **figshare**: a local HTTP server stands in for figshare's two file endpoints. The
  API address answers every request with HTTP 202 and an empty body (what figshare
  answers scripts it takes for bots); the ndownloader address serves the files. The
  files are the brain-tumour stand-in's own zips and ``cvind.mat`` (written by
  ``medcnn.datasets.brain_tumor.write_synthetic``, in the real format). A
  ``sitecustomize.py`` beside the kagglehub stand-in (Python imports it as each kernel
  starts) points ``medcnn.datasets.brain_tumor``'s ``FIGSHARE_API``, ``FIGSHARE_FILES``
  and ``FIGSHARE_PARTS`` (the files' ids and checksums) at the stand-in: the package reads
  no environment variable for it. The chapter downloads, checks and unpacks them with its
  own code.
- **kagglehub**: a stand-in module ``kagglehub`` (on the kernel's ``PYTHONPATH``)
  answers ``dataset_download`` as Colab's kagglehub does, with a read-only folder of
  its own, holding the COVID-19 and RFMiD stand-ins in their Kaggle layouts.
- **weights**: ``MEDCNN_WEIGHTS=none`` (ImageNet's cannot be fetched here).
- **sizes**: ``--images`` images per class (default ``$MEDCNN_REHEARSAL_IMAGES``, read
  by this script, else 8) and ``MEDCNN_EPOCHS`` / ``MEDCNN_FINE_TUNE_EPOCHS`` epochs
  (default 2 / 1), the user settings of :mod:`medcnn.environment` that shorten a full run.

Each dataset chapter's committed ``.ipynb`` is copied into an empty folder and
executed top to bottom with nbclient, solutions included; the data folder starts
empty, so every download runs. The script checks that each ran in the full profile
at the backbone's own image size, that figshare's 202 was met and the mirror used,
and that kagglehub was asked for each Kaggle dataset, and prints the time of each
chapter and in all.

Usage::

    python tools/rehearsal.py                       # the three dataset chapters
    python tools/rehearsal.py --chapters retina     # one
    python tools/rehearsal.py --keep                # keep the workspace (executed notebooks, data)

Example:
    >>> main(["--chapters", "retina"])   # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = {
    "brain_tumor": REPOSITORY_ROOT / "book" / "datasets" / "brain_tumor.ipynb",
    "covid19": REPOSITORY_ROOT / "book" / "datasets" / "covid19.ipynb",
    "retina": REPOSITORY_ROOT / "book" / "datasets" / "retina.ipynb",
}

KAGGLEHUB_STAND_IN = '''"""Stand-in for kagglehub in the full-profile rehearsal (written by tools/rehearsal.py).

dataset_download answers as kagglehub does on Colab: with a read-only folder of its own
(here $MEDCNN_REHEARSAL_KAGGLE/<owner>/<name>), whatever output_dir says. Every call is
logged to $MEDCNN_REHEARSAL_KAGGLE/calls.jsonl.
"""

import json
import os
from pathlib import Path

__version__ = "0.4.3"


def dataset_download(handle, path=None, *, force_download=False, output_dir=None):
    root = Path(os.environ["MEDCNN_REHEARSAL_KAGGLE"])
    owner, name = handle.split("/")[:2]
    with open(root / "calls.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps({"handle": handle, "output_dir": output_dir, "force_download": force_download}) + "\\n")
    folder = root / owner / name
    if not folder.is_dir():
        raise ValueError(f"404 Client Error: dataset {handle} not found")
    return str(folder)
'''


class FigshareStandIn(BaseHTTPRequestHandler):
    """``/api/file/download/<id>``: 202 and no body; ``/files/<id>``: the file; anything else 404."""

    def __init__(self, *arguments, files: dict[int, Path], log: list, **keywords):
        self.files = files
        self.log = log
        super().__init__(*arguments, **keywords)

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        parts = self.path.strip("/").split("/")
        if parts[:3] == ["api", "file", "download"]:
            self.log.append(("202", self.path))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts[0] == "files" and len(parts) == 2 and parts[1].isdigit() and int(parts[1]) in self.files:
            data = self.files[int(parts[1])].read_bytes()
            self.log.append(("200", self.path))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.log.append(("404", self.path))
        self.send_error(404)

    def log_message(self, *arguments):  # quiet: the log list records what was asked
        return


def _stand_in_sources(workspace: Path, images: int, seed: int) -> dict:
    """Write the three stand-ins in their real formats; return where each is served from."""
    from medcnn.datasets import brain_tumor, covid19, retina
    from medcnn.datasets.base import SYNTHETIC_MARKER

    sources = workspace / "sources"
    # figshare: the article zip's parts, served by their real file ids
    written = Path(brain_tumor.write_synthetic(sources / "brain_tumor", per_class=images, seed=seed))
    figshare = workspace / "figshare"
    figshare.mkdir(parents=True)
    parts, files = {}, {}
    with zipfile.ZipFile(written / brain_tumor.DOWNLOAD_NAME) as archive:
        for name, (file_id, _, _) in brain_tumor.FIGSHARE_PARTS.items():
            data = archive.read(name)
            path = figshare / str(file_id)
            path.write_bytes(data)
            files[file_id] = path
            parts[name] = [file_id, len(data), hashlib.md5(data).hexdigest()]
    # kagglehub: each dataset's folder, in its Kaggle layout, without the stand-in's marker
    kaggle = workspace / "kaggle"
    for module in (covid19, retina):
        owner, name = module.SOURCE.split("/")[:2]
        written = Path(module.write_synthetic(sources / module.KEY, per_class=images, seed=seed))
        target = kaggle / owner / name
        shutil.copytree(written, target)
        (target / SYNTHETIC_MARKER).unlink(missing_ok=True)
        for path in sorted(target.rglob("*"), reverse=True):  # read-only, like Colab's mount
            path.chmod(0o555 if path.is_dir() else 0o444)
        target.chmod(0o555)
    stand_ins = workspace / "stand_ins" / "kagglehub"
    stand_ins.mkdir(parents=True)
    (stand_ins / "__init__.py").write_text(KAGGLEHUB_STAND_IN, encoding="utf-8")
    return {"files": files, "parts": parts, "kaggle": kaggle,
            "python_path": workspace / "stand_ins"}  # fmt: skip


FIGSHARE_POINTER = '''"""Points medcnn's brain tumor download at the rehearsal's figshare stand-in (written by tools/rehearsal.py).

Python imports sitecustomize as it starts; this folder is first on the kernels' PYTHONPATH.
"""

from medcnn.datasets import brain_tumor

brain_tumor.FIGSHARE_API = {api!r}
brain_tumor.FIGSHARE_FILES = {files!r}
brain_tumor.FIGSHARE_PARTS = {parts!r}
'''


def _point_figshare_at(python_path: Path, address: str, parts: dict) -> Path:
    """Write the ``sitecustomize.py`` that injects the stand-in's addresses and files into each kernel."""
    listed = {name: (int(file_id), int(size), str(md5)) for name, (file_id, size, md5) in parts.items()}
    path = python_path / "sitecustomize.py"
    path.write_text(FIGSHARE_POINTER.format(api=f"{address}/api", files=f"{address}/files", parts=listed),
                    encoding="utf-8")
    return path


def _execute(notebook_path: Path, folder: Path, timeout: int):
    import nbformat
    from nbclient import NotebookClient

    folder.mkdir(parents=True)
    copy = folder / notebook_path.name
    shutil.copyfile(notebook_path, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    error = None
    try:
        client.execute()
    except Exception as raised:  # nbclient's CellExecutionError names the cell and the traceback
        error = raised
    nbformat.write(notebook, folder / f"executed-{notebook_path.name}")
    return notebook, error


def _outputs_text(notebook) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", "") if isinstance(output.get("text", ""), str) else "".join(output["text"]))
            data = output.get("data", {})
            texts.append(data.get("text/plain", "") if isinstance(data.get("text/plain", ""), str) else "")
    return "\n".join(texts)


def _check(chapter: str, notebook, data_dir: Path, figshare_log: list, kaggle_calls: Path) -> list[str]:
    from medcnn.datasets.base import synthetic_settings
    from medcnn.models.backbones import get_backbone

    problems = []
    text = _outputs_text(notebook)
    if "FULL RUN" not in text:
        problems.append("no output says FULL RUN: the chapter did not run in the full profile")
    settings = next(cell.source for cell in notebook.cells if cell.cell_type == "code" and "BACKBONE =" in cell.source)
    backbone = settings.split("BACKBONE =", 1)[1].split("\n", 1)[0].split("#")[0].strip().strip("\"'")
    size = get_backbone(backbone).default_size
    if f"{size}, {size}, 3)" not in text and f"{size}x{size}" not in text:
        problems.append(f"no output shows images of {size}x{size} px, {backbone}'s own size")
    root = data_dir / chapter
    if not root.is_dir() or synthetic_settings(root) is not None:
        problems.append(f"{root}: no downloaded dataset (or a synthetic stand-in written by the chapter itself)")
    if chapter == "brain_tumor":
        codes = [code for code, _ in figshare_log]
        if "202" not in codes or codes.count("200") < 5:
            problems.append(f"figshare stand-in: expected 202 answers then 5 files served, saw {codes}")
    else:
        calls = kaggle_calls.read_text(encoding="utf-8") if kaggle_calls.is_file() else ""
        if f'"{chapter}' not in calls and not any(json.loads(line)["handle"] for line in calls.splitlines()):
            problems.append("kagglehub stand-in was never asked for the dataset")
    return problems


def _images_from_environment(default: int = 8) -> int:
    """``$MEDCNN_REHEARSAL_IMAGES`` (the scheduled workflow sets it), read by this script only."""
    text = os.environ.get("MEDCNN_REHEARSAL_IMAGES", "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 2:
        raise SystemExit(f"$MEDCNN_REHEARSAL_IMAGES={text!r}: expected a whole number of at least 2 (or unset it)")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    """Run the rehearsal; print each chapter's time and problems; exit status 1 if any chapter failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapters", nargs="+", choices=sorted(CHAPTERS), default=list(CHAPTERS))
    parser.add_argument("--keep", action="store_true", help="keep the workspace (executed notebooks, data, logs)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=_images_from_environment(),
                        help="images per class and official split (default $MEDCNN_REHEARSAL_IMAGES, else 8)")
    arguments = parser.parse_args(argv)
    if arguments.images < 2:
        parser.error(f"--images {arguments.images}: expected at least 2 (each split needs one image per class)")

    os.environ.setdefault("MEDCNN_EPOCHS", "2")
    os.environ.setdefault("MEDCNN_FINE_TUNE_EPOCHS", "1")
    os.environ["MEDCNN_WEIGHTS"] = "none"
    images = arguments.images
    started = time.perf_counter()
    workspace = Path(tempfile.mkdtemp(prefix="medcnn-rehearsal-"))
    print(f"rehearsal in {workspace}: {images} images per class, {os.environ['MEDCNN_EPOCHS']} epoch(s), "
          f"{os.environ['MEDCNN_FINE_TUNE_EPOCHS']} fine-tuning epoch(s), weights=None, full profile")  # fmt: skip
    sources = _stand_in_sources(workspace, images, arguments.seed)
    figshare_log: list = []
    handler = partial(FigshareStandIn, files=sources["files"], log=figshare_log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"http://127.0.0.1:{server.server_address[1]}"
    data_dir = workspace / "data"
    _point_figshare_at(sources["python_path"], address, sources["parts"])
    environment = {
        "MEDCNN_PROFILE": "full",
        "MEDCNN_DATA_DIR": str(data_dir),
        "MEDCNN_REHEARSAL_KAGGLE": str(sources["kaggle"]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(sources["python_path"]), os.environ.get("PYTHONPATH")])),
        "TMPDIR": str(workspace / "tmp"),
        "KERAS_HOME": str(workspace / "keras"),
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    (workspace / "tmp").mkdir()
    os.environ.update(environment)  # the kernels inherit it

    timings, failures = {}, {}
    try:
        for chapter in arguments.chapters:
            chapter_started = time.perf_counter()
            notebook, error = _execute(CHAPTERS[chapter], workspace / "colab" / chapter, arguments.timeout)
            timings[chapter] = time.perf_counter() - chapter_started
            problems = [f"a cell failed: {str(error)[-3000:]}"] if error else []
            if not error:
                problems += _check(chapter, notebook, data_dir, figshare_log, sources["kaggle"] / "calls.jsonl")
            if problems:
                failures[chapter] = problems
            print(f"{chapter}: {'FAILED' if problems else 'passed'} in {timings[chapter]:.1f} s", flush=True)
            for problem in problems:
                print(f"  {problem}", flush=True)
    finally:
        server.shutdown()
        if not arguments.keep:
            for path in sorted(workspace.rglob("*"), reverse=True):
                if not path.is_symlink():
                    path.chmod(0o755 if path.is_dir() else 0o644)
            shutil.rmtree(workspace, ignore_errors=True)
    total = time.perf_counter() - started
    shown = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    print(f"rehearsal: {len(timings) - len(failures)} of {len(arguments.chapters)} chapter(s) passed; {shown}; "
          f"total {total:.1f} s (stand-ins included)" + (f"; workspace kept: {workspace}" if arguments.keep else ""))  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
