"""Grade a folder of submitted lab notebooks locally, without Docker: ``make grade``.

For each file in the submissions folder, one row of ``_build/labs/<lab>/grades.csv``:
``file, score, possible, reason`` and one column per question. Every file gets a row and
the batch never stops on a bad one:

- a file that is not a notebook, or an empty one, scores 0 with the reason;
- every other notebook is executed **in its own subprocess** (a fresh Jupyter kernel in a
  fresh temporary folder) by Otter-Grader's ``grade_notebook`` with the lab's hidden
  tests, kept in a folder the submission does not run in. Cell errors do not stop the
  run (Otter ignores them, as ``otter run`` does): the questions whose answers exist
  still score. A cell that runs past ``--cell-timeout`` seconds is interrupted and the
  run goes on; a notebook past ``--timeout`` seconds in all (an interrupt it swallows, a
  kernel that will not die) is killed with its whole process group and scores 0. Output
  beyond ``--max-output`` bytes is dropped, so a notebook that prints megabytes costs
  no memory;
- the reason also says which check cells were deleted or moved, and which cells failed.

The submission's own ``grader.check(...)`` calls are taken out before it runs, so every
question is graded by all its tests (public and hidden) **after the last cell**, on the
notebook's final state: deleting, moving or never running the check cells changes
nothing, and an answer is never graded before the cell that computes it has run.

Why a subprocess around Otter's ``grade_notebook`` rather than ``otter run``: ``otter run``
has no time limit, stops at nothing and runs the hidden tests from the folder the
submission itself runs in (a submission could overwrite them); killing a process group is
the one stop that always works.

Usage::

    python tools/labs_grade.py --lab measuring --submissions folder/ [--out grades.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_NOTEBOOK_BYTES = 50_000_000  # a lab notebook with its outputs is well under 1 MB
CHECK_CALL = re.compile(r"""grader\.check\(\s*["'](\w+)["']\s*\)""")


def _points(tests: pathlib.Path) -> dict[str, float]:
    """Points of each question, read from the autograder's test files (``name``, ``points``)."""
    points = {}
    for path in sorted(tests.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        value = re.search(r"^points = ([\d.]+)", text, flags=re.M)
        points[path.stem] = float(value.group(1)) if value else 1.0
    return dict(sorted(points.items(), key=lambda item: _natural(item[0])))


def _natural(text: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _expected_checks(autograder: pathlib.Path, lab: str) -> list[str]:
    text = (autograder / f"{lab}.ipynb").read_text(encoding="utf-8")
    return CHECK_CALL.findall("".join(cell_source for cell_source in _code_sources(json.loads(text))))


def _code_sources(notebook: dict) -> list[str]:
    sources = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


def inspect_submission(path: pathlib.Path, expected_checks: list[str]) -> tuple[str | None, list[str]]:
    """Return (why it cannot be graded or None, notes on its structure)."""
    import nbformat

    size = path.stat().st_size
    if size == 0:
        return "empty file: no notebook to grade", []
    if size > MAX_NOTEBOOK_BYTES:
        return f"file of {size / 1e6:.0f} MB, over the {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB a lab notebook can need: not graded", []
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - any unreadable file is a reason, not a crash
        first_line = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        return f"not a Jupyter notebook ({type(error).__name__}: {first_line})", []
    sources = _code_sources(notebook)
    if not any(source.strip() for source in sources):
        return "empty notebook: no code to run", []
    notes = []
    found = CHECK_CALL.findall("\n".join(sources))
    missing = [name for name in expected_checks if name not in found]
    if len(missing) == len(expected_checks):
        notes.append("never calls the checks (grader.check cells deleted); hidden tests run anyway")
    elif missing:
        notes.append(f"check cells deleted: {', '.join(missing)}")
    present = [name for name in found if name in expected_checks]
    if present != [name for name in expected_checks if name in present]:
        notes.append("cells reordered: the checks are not in the lab's order")
    return None, notes


# ---------------------------------------------------------------- the worker (one submission)


def _limited_executor(cell_timeout: int, max_output: int):
    """nbconvert's ExecutePreprocessor with a per-cell time limit that interrupts and goes on,
    and a cap on the output it keeps."""
    from nbconvert.preprocessors import ExecutePreprocessor

    class LimitedExecutePreprocessor(ExecutePreprocessor):
        def __init__(self, **keywords):
            super().__init__(**keywords)
            self.timeout = cell_timeout
            self.interrupt_on_timeout = True
            self.kept_bytes = 0
            self.dropped_output = False
            self.timed_out_cells = []

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            if self.kept_bytes + size > max_output:
                self.dropped_output = True
                return None
            self.kept_bytes += size
            return super().output(outs, msg, display_id, cell_index)

        def _check_raise_for_error(self, cell, cell_index, exec_reply):
            if exec_reply is not None and exec_reply.get("content", {}).get("ename") == "KeyboardInterrupt":
                self.timed_out_cells.append(cell_index)
            return super()._check_raise_for_error(cell, cell_index, exec_reply)

    return LimitedExecutePreprocessor


def run_worker(autograder_zip: pathlib.Path, submission: pathlib.Path, result_path: pathlib.Path,
               *, cell_timeout: int, max_output: int) -> None:
    """Grade one submission in this process and write its results as JSON (the subprocess side)."""
    import nbconvert.preprocessors
    import nbformat

    from otter.execute import grade_notebook

    folder = pathlib.Path(tempfile.mkdtemp(prefix="medcnn-grade-"))
    hidden = folder / "hidden_tests"
    work = folder / "work"
    work.mkdir()
    with zipfile.ZipFile(autograder_zip) as archive:
        for member in archive.namelist():
            if member.startswith("tests/") and member.endswith(".py"):
                hidden.mkdir(exist_ok=True)
                (hidden / pathlib.Path(member).name).write_bytes(archive.read(member))
    copy = work / submission.name
    notebook = nbformat.read(submission, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = CHECK_CALL.sub("pass  # grader.check removed: the tests run after the last cell", cell.source)
    nbformat.write(notebook, copy)
    executor = _limited_executor(cell_timeout, max_output)
    instances = []

    class Recording(executor):
        def __init__(self, **keywords):
            super().__init__(**keywords)
            instances.append(self)

    nbconvert.preprocessors.ExecutePreprocessor = Recording
    os.chdir(work)
    results = grade_notebook(
        str(copy),
        tests_glob=sorted(str(path) for path in hidden.glob("*.py")),
        cwd=str(work),
        test_dir=str(hidden),
        ignore_errors=True,
    )
    errors = []
    for position, cell in enumerate(results.notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(f"cell {position}: {output.get('ename')}")
    run = instances[0] if instances else None
    scores = {name: float(result.score) for name, result in results.results.items()}
    json.dump(
        {
            "scores": scores,
            "errors": errors,
            "timed_out_cells": run.timed_out_cells if run else [],
            "dropped_output": bool(run and run.dropped_output),
        },
        result_path.open("w"),
    )


# ---------------------------------------------------------------- the batch


def grade_one(path: pathlib.Path, *, autograder: pathlib.Path, lab: str, points: dict[str, float],
              expected_checks: list[str], timeout: int, cell_timeout: int, max_output: int) -> dict:
    """Grade one file; always return a row, whatever the file holds."""
    row = {"file": path.name, "score": 0.0, "possible": sum(points.values()), "reason": ""}
    row.update({name: 0.0 for name in points})
    problem, notes = inspect_submission(path, expected_checks)
    if problem:
        row["reason"] = problem
        return row
    with tempfile.TemporaryDirectory(prefix="medcnn-grade-") as folder:
        result_path = pathlib.Path(folder) / "result.json"
        log_path = pathlib.Path(folder) / "log.txt"
        command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker",
                   "--autograder-zip", str(autograder / "autograder.zip"), "--submission", str(path.resolve()),
                   "--result", str(result_path), "--cell-timeout", str(cell_timeout), "--max-output", str(max_output)]
        environment = {**os.environ, "MEDCNN_PROFILE": os.environ.get("MEDCNN_PROFILE", "smoke"), "MPLBACKEND": "Agg"}
        start = time.perf_counter()
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                                       env=environment, start_new_session=True)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                row["reason"] = "; ".join([f"stopped after {timeout} s in all (endless loop?): scored 0", *notes])
                return row
        elapsed = time.perf_counter() - start
        if process.returncode != 0 or not result_path.is_file():
            with log_path.open("rb") as log:
                log.seek(max(0, log_path.stat().st_size - 4000))
                tail = log.read().decode("utf-8", "replace").strip().splitlines()
            last = next((line for line in reversed(tail) if line.strip()), "no output")
            dead = "the kernel died" if any("DeadKernel" in line or "Kernel died" in line for line in tail) else "grading failed"
            row["reason"] = "; ".join([f"{dead} ({last[:200]}): scored 0", *notes])
            return row
        result = json.loads(result_path.read_text())
    for name, score in result["scores"].items():
        if name in row:
            row[name] = score
    row["score"] = round(sum(row[name] for name in points), 4)
    reasons = list(notes)
    if result["timed_out_cells"]:
        reasons.append(f"cells stopped after {cell_timeout} s: {', '.join(map(str, result['timed_out_cells']))}")
    other_errors = [error for error in result["errors"] if "KeyboardInterrupt" not in error]
    if other_errors:
        reasons.append("errors in " + ", ".join(other_errors[:5]) + (" ..." if len(other_errors) > 5 else ""))
    if result["dropped_output"]:
        reasons.append(f"output beyond {max_output} bytes dropped")
    lost = [name for name in points if row[name] < points[name]]
    if lost:
        reasons.append(f"not full marks: {', '.join(lost)}")
    row["reason"] = "; ".join(reasons) or f"all questions right ({elapsed:.0f} s)"
    return row


def grade_folder(lab: str, submissions: pathlib.Path, *, labs_dir: pathlib.Path, out: pathlib.Path | None = None,
                 timeout: int = 600, cell_timeout: int = 120, max_output: int = 1_000_000,
                 jobs: int = 1) -> pathlib.Path:
    """Grade every file of ``submissions``; write and return ``labs_dir/<lab>/grades.csv`` (or ``out``).

    Example:
        >>> grade_folder("measuring", pathlib.Path("submissions"), labs_dir=pathlib.Path("_build/labs"))  # doctest: +SKIP
        PosixPath('_build/labs/measuring/grades.csv')
    """
    autograder = labs_dir / lab / "autograder"
    if not (autograder / "autograder.zip").is_file():
        raise SystemExit(f"error: {autograder / 'autograder.zip'} is missing: run `make labs` first (lab {lab!r})")
    if not submissions.is_dir():
        raise SystemExit(f"error: SUBMISSIONS={submissions} is not a folder: give the folder of submitted notebooks")
    files = sorted(path for path in submissions.iterdir() if path.is_file() and not path.name.startswith("."))
    if not files:
        raise SystemExit(f"error: {submissions} holds no file to grade")
    points = _points(autograder / "tests")
    expected_checks = _expected_checks(autograder, lab)
    out = out or labs_dir / lab / "grades.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = ["file", "score", "possible", "reason", *points]
    from concurrent.futures import ThreadPoolExecutor

    def grade(path):
        start = time.perf_counter()
        row = grade_one(path, autograder=autograder, lab=lab, points=points, expected_checks=expected_checks,
                        timeout=timeout, cell_timeout=cell_timeout, max_output=max_output)
        print(f"{path.name}: {row['score']:g}/{row['possible']:g} ({time.perf_counter() - start:.0f} s) {row['reason']}")
        return row

    # Each submission runs in its own process; `jobs` of them at a time (rows keep the files' order).
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        rows = list(pool.map(grade, files))
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab")
    parser.add_argument("--submissions")
    parser.add_argument("--labs-dir", default=str(ROOT / "_build" / "labs"))
    parser.add_argument("--out", help="the CSV to write (default _build/labs/<lab>/grades.csv)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one submission may run in all")
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds one cell may run before it is interrupted")
    parser.add_argument("--max-output", type=int, default=1_000_000, help="bytes of output kept per submission")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time (default 1)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--autograder-zip", help=argparse.SUPPRESS)
    parser.add_argument("--submission", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        run_worker(pathlib.Path(arguments.autograder_zip), pathlib.Path(arguments.submission),
                   pathlib.Path(arguments.result), cell_timeout=arguments.cell_timeout, max_output=arguments.max_output)
        return 0
    if not arguments.lab or not arguments.submissions:
        parser.error("give --lab <lab> and --submissions <folder> (make grade LAB=<lab> SUBMISSIONS=<folder>)")
    out = grade_folder(arguments.lab, pathlib.Path(arguments.submissions), labs_dir=pathlib.Path(arguments.labs_dir),
                       out=pathlib.Path(arguments.out) if arguments.out else None, timeout=arguments.timeout,
                       cell_timeout=arguments.cell_timeout, max_output=arguments.max_output, jobs=arguments.jobs)
    print(f"grades: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
