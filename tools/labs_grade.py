"""Grade a folder of submitted lab notebooks locally, without Docker: ``make grade``.

For each file in the submissions folder, one row of ``_build/labs/<lab>/grades/grades.csv``
(``student, file, score, manual, total, possible, reason``, one column per question), one
feedback file ``_build/labs/<lab>/grades/feedback/<student>.md`` (each question's points and
every failed check's message), and the student's written answers in
``_build/labs/<lab>/grades/manual.csv`` for the instructor to mark.

How a submission is graded (``tools/grading_sandbox.py`` says how it is isolated):

1. the lab is rebuilt first when its source (or the tools that build it) changed since the
   last build; the hidden tests are read from the build into the grader's memory;
2. the notebook is copied into a private scratch folder, its ``grader.check`` calls are taken
   out and any ``PROFILE = ...`` line becomes ``PROFILE = "smoke"``; it runs there in a
   sandbox (as another, unprivileged user when grading as root), each cell under a time limit
   that interrupts it and goes on, its output capped;
3. after its last cell, **the grader** runs each question's hidden tests in its own process,
   on the values it asks the sandbox for (data: numbers, arrays, tables) and on calls of the
   notebook's functions with inputs the notebook never saw. A question scores its points in
   proportion to the hidden tests it passes, clamped to ``[0, points]``; the public checks
   carry no points (their messages go to the feedback file);
4. every process of the submission ends, its scratch folder is removed, and its row is written
   at once (the whole CSV written to a temporary file and renamed: a crash loses no row).

A later run keeps the rows of files that did not change (same file, same lab build: the
``digest`` column) unless ``--regrade``, and merges the ``points`` the instructor entered in
``manual.csv`` into the ``manual`` and ``total`` columns.

Usage::

    python tools/labs_grade.py --lab measuring --submissions folder/ [--jobs 2] [--regrade]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import inspect
import json
import os
import pathlib
import queue
import re
import shutil
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import grading_sandbox  # noqa: E402

MAX_NOTEBOOK_BYTES = 50_000_000  # a lab notebook with its outputs is well under 1 MB
CHECK_CALL = re.compile(r"""grader\.check\(\s*["'](\w+)["']\s*\)""")
PROFILE_LINE = re.compile(r"^(\s*)PROFILE\s*=.*$", flags=re.M)
WRITTEN_ANSWER = re.compile(r"^(q\d+_reason)\s*=", flags=re.M)
MANUAL_POINTS_PER_ANSWER = 1.0  # what a written answer may earn on top of the autograded points
FIXED_COLUMNS = ["student", "file", "score", "manual", "total", "possible", "reason"]
DIGEST_COLUMN = "digest"


def _natural(text: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


# ---------------------------------------------------------------- the lab's tests (trusted)


def load_questions(tests: pathlib.Path) -> dict[str, dict]:
    """``{question: {"points": p, "cases": [(name, function, hidden), ...]}}`` from an autograder's test files.

    The files are the instructor's (Otter's format, written by ``otter assign``); they are
    executed here with a stand-in for Otter's ``test_case`` decorator, never in a submission.

    Example:
        >>> load_questions(pathlib.Path("_build/labs/measuring/autograder/tests"))["q1"]["points"]  # doctest: +SKIP
        2.0
    """
    questions = {}
    for path in sorted(tests.glob("*.py"), key=lambda item: _natural(item.stem)):
        cases = []

        def test_case(name=None, points=None, hidden=False, success_message=None, failure_message=None):
            def register(function):
                cases.append((name or function.__name__, function, bool(hidden)))
                return function
            return register

        text = path.read_text(encoding="utf-8").replace("from otter.test_files import test_case", "")
        namespace = {"test_case": test_case, "__name__": f"lab_tests_{path.stem}"}
        exec(compile(text, str(path), "exec"), namespace)  # noqa: S102 - the instructor's own tests
        if not any(hidden for _, _, hidden in cases):
            raise SystemExit(f"error: {path}: question {path.stem} has no hidden test: the hidden tests carry the points")
        questions[namespace.get("name", path.stem)] = {"points": float(namespace.get("points", 1) or 0), "cases": cases}
    if not questions:
        raise SystemExit(f"error: no test file in {tests}: rebuild the lab (make labs)")
    return questions


def written_answers(solution: pathlib.Path) -> list[str]:
    """The variables of the lab that hold a written answer (``qN_reason``), in the solution's order."""
    text = "\n".join(_code_sources(json.loads(solution.read_text(encoding="utf-8"))))
    return list(dict.fromkeys(WRITTEN_ANSWER.findall(text)))


def _expected_checks(autograder: pathlib.Path, lab: str) -> list[str]:
    text = (autograder / f"{lab}.ipynb").read_text(encoding="utf-8")
    return CHECK_CALL.findall("".join(_code_sources(json.loads(text))))


def _code_sources(notebook: dict) -> list[str]:
    sources = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


# ---------------------------------------------------------------- one submission


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
    if expected_checks and len(missing) == len(expected_checks):
        notes.append("never calls the checks (grader.check cells deleted); hidden tests run anyway")
    elif missing:
        notes.append(f"check cells deleted: {', '.join(missing)}")
    present = [name for name in found if name in expected_checks]
    if present != [name for name in expected_checks if name in present]:
        notes.append("cells reordered: the checks are not in the lab's order")
    return None, notes


def prepare_notebook(path: pathlib.Path, target: pathlib.Path) -> list[str]:
    """Copy the submission for its run: no ``grader.check`` calls, the smoke profile. Return notes."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notes = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if "otter.Notebook(" in cell.source:  # Otter's init cell: not needed, the checks run in the grader
            cell.source = "grader = None  # the grader runs every check after the last cell"
            continue
        cell.source = CHECK_CALL.sub("pass  # grader.check removed: the hidden tests run after the last cell", cell.source)
        for match in PROFILE_LINE.finditer(cell.source):
            if re.search(r"""["']full["']""", match.group(0).split("#")[0]):
                notes.append("PROFILE set to full: graded in the smoke profile")
        cell.source = PROFILE_LINE.sub(r'\1PROFILE = "smoke"  # the grader runs the smoke profile', cell.source)
    nbformat.write(notebook, target)
    return sorted(set(notes))


def _message(error: BaseException) -> str:
    if isinstance(error, AssertionError):
        return str(error) or "a check of the answer failed"
    if isinstance(error, NameError):
        return str(error)
    if isinstance(error, grading_sandbox.RemoteError):
        return f"your code raised {error}"
    if isinstance(error, TypeError) and "Remote" in str(error):
        return "the answer is not a number, array or table where one is expected"
    return f"{type(error).__name__}: {str(error)[:200]}"


def evaluate(box, questions: dict[str, dict]) -> dict[str, dict]:
    """Run every test of every question on the sandbox's values; ``{question: {"score", "failed": [...]}}``.

    The score of a question is its points times the share of its hidden tests passed, clamped.
    """
    cache = {}

    def value(name):
        if name not in cache:
            try:
                cache[name] = ("ok", box.get(name))
            except grading_sandbox.SandboxError:
                raise
            except Exception as error:  # noqa: BLE001 - the variable is missing or its value raised
                cache[name] = ("error", error)
        kind, result = cache[name]
        if kind == "error":
            raise result
        return result

    results = {}
    broken = None
    for question, spec in questions.items():
        hidden = [case for case in spec["cases"] if case[2]]
        passed, failed = 0, []
        for name, function, is_hidden in spec["cases"]:
            if broken:
                failed.append((name, is_hidden, broken))
                continue
            try:
                arguments = [value(parameter) for parameter in inspect.signature(function).parameters]
                function(*arguments)
            except grading_sandbox.SandboxError as error:
                broken = f"the notebook could not be asked further ({error})"
                failed.append((name, is_hidden, broken))
            except Exception as error:  # noqa: BLE001 - a failed check is a message, never a crash
                failed.append((name, is_hidden, _message(error)))
            else:
                passed += is_hidden
        score = spec["points"] * passed / len(hidden) if hidden else 0.0
        results[question] = {"score": round(min(max(score, 0.0), spec["points"]), 2), "failed": failed}
    return results


def grade_one(path: pathlib.Path, *, lab: str, questions: dict, expected_checks: list[str], answers: list[str],
              base: pathlib.Path, hide: list[str], slot: int, timeout: int, cell_timeout: int,
              max_output: int) -> tuple[dict, list[str], dict[str, str]]:
    """Grade one file; always return (row, feedback lines, written answers), whatever the file holds."""
    possible = sum(spec["points"] for spec in questions.values())
    row = {"student": student_name(path), "file": path.name, "score": 0.0, "possible": possible, "reason": ""}
    row.update({name: 0.0 for name in questions})
    feedback: list[str] = []
    problem, notes = inspect_submission(path, expected_checks)
    if problem:
        row["reason"] = problem
        return row, [f"Not graded: {problem}."], {}
    start = time.monotonic()
    # Inside the grader's base folder: removed with it, or by the next grader if this one is killed.
    with tempfile.TemporaryDirectory(prefix="prepare-", dir=base) as folder:
        prepared = pathlib.Path(folder) / "submission.ipynb"
        notes += prepare_notebook(path, prepared)
        box = grading_sandbox.Sandbox(prepared, base=base, hide=hide, slot=slot, cell_timeout=cell_timeout,
                                      max_output=max_output, deadline=start + timeout)
        written = {}
        try:
            report = box.start()
            results = evaluate(box, questions)
            for name in answers:
                try:
                    answer = box.get(name)
                    written[name] = answer if isinstance(answer, str) else ""
                except Exception:  # noqa: BLE001 - no answer written
                    written[name] = ""
        except grading_sandbox.SandboxError as error:
            reason = (f"stopped after {timeout} s in all (endless loop?): scored 0" if str(error) == "timeout"
                      else f"{error}: scored 0")
            row["reason"] = "; ".join([reason, *notes])
            return row, [f"Not graded: {reason}."], {}
        finally:
            box.close()
    for name, result in results.items():
        row[name] = result["score"]
    row["score"] = round(sum(row[name] for name in questions), 2)
    reasons = list(notes)
    if report.get("timed_out_cells"):
        reasons.append(f"cells stopped after {cell_timeout} s: {', '.join(map(str, report['timed_out_cells']))}")
    errors = [f"cell {item['cell']}: {item['error']}" for item in report.get("errors", [])][:5]
    if errors:
        reasons.append("errors in " + ", ".join(errors))
    if not report.get("kernel_alive", True):
        reasons.append("the kernel died")
    if report.get("dropped_output"):
        reasons.append(f"output beyond {max_output} bytes dropped")
    lost = [name for name in questions if row[name] < questions[name]["points"]]
    if lost:
        reasons.append(f"not full marks: {', '.join(lost)}")
    row["reason"] = "; ".join(reasons) or f"all questions right ({time.monotonic() - start:.0f} s)"
    for name, spec in questions.items():
        feedback.append(f"## {name}: {row[name]:g} / {spec['points']:g}")
        for case, hidden, message in results[name]["failed"]:
            kind = "hidden check" if hidden else "public check"
            feedback.append(f"- {kind} {case} failed: {message}")
        feedback.append("")
    if reasons:
        feedback += ["## Notes", *[f"- {reason}" for reason in reasons]]
    return row, feedback, written


def student_name(path: pathlib.Path) -> str:
    """The student column: the file name without ``.ipynb`` (the name the instructor gave the file)."""
    return path.stem if path.suffix == ".ipynb" else path.name


# ---------------------------------------------------------------- the batch


def lab_digest(lab: str, source: pathlib.Path) -> str:
    """The build's fingerprint: the lab's source and the tools that turn it into tests and a grader."""
    digest = hashlib.sha256()
    for path in (source, ROOT / "tools" / "labs.py", ROOT / "tools" / "labs_grade.py", ROOT / "tools" / "grading_sandbox.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_built(lab: str, labs_dir: pathlib.Path) -> pathlib.Path:
    """Build the lab into ``labs_dir`` when it is missing or its source changed since; return its autograder."""
    import labs

    source = labs.lab_sources(names=[lab])[lab]
    stamp = labs_dir / lab / "source.sha256"
    autograder = labs_dir / lab / "autograder"
    wanted = labs.source_digest(source)
    if not (autograder / "tests").is_dir() or not stamp.is_file() or stamp.read_text().strip() != wanted:
        print(f"{lab}: the lab's source changed since it was built (or it was never built): building it")
        labs.build_lab(lab, source, labs_dir)
    return autograder


def _write_atomically(path: pathlib.Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _csv_text(columns: list[str], rows: list[dict]) -> str:
    import io

    handle = io.StringIO()
    writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return handle.getvalue()


def _read_csv(path: pathlib.Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def merge_manual(rows: list[dict], manual_rows: list[dict]) -> list[str]:
    """Put the instructor's manual points into ``manual`` and ``total``; return problems found in manual.csv."""
    problems = []
    by_file: dict[str, float] = {}
    for entry in manual_rows:
        text = (entry.get("points") or "").strip()
        if not text:
            continue
        try:
            points = float(text)
        except ValueError:
            problems.append(f"manual.csv: {entry.get('file')} {entry.get('question')}: points {text!r} is not a number")
            continue
        maximum = float(entry.get("max_points") or MANUAL_POINTS_PER_ANSWER)
        if not 0 <= points <= maximum:
            problems.append(f"manual.csv: {entry.get('file')} {entry.get('question')}: {points:g} outside 0-{maximum:g}: clamped")
        by_file[entry.get("file", "")] = by_file.get(entry.get("file", ""), 0.0) + min(max(points, 0.0), maximum)
    for row in rows:
        manual = by_file.get(row["file"])
        row["manual"] = "" if manual is None else round(manual, 2)
        row["total"] = round(float(row["score"]) + (manual or 0.0), 2)
    return problems


def grade_folder(lab: str, submissions: pathlib.Path, *, labs_dir: pathlib.Path, out: pathlib.Path | None = None,
                 timeout: int = 600, cell_timeout: int = 120, max_output: int = 1_000_000,
                 jobs: int = 1, regrade: bool = False, build: bool = True, quiet: bool = False) -> pathlib.Path:
    """Grade every file of ``submissions``; write and return ``labs_dir/<lab>/grades/grades.csv`` (or ``out``).

    Example:
        >>> grade_folder("measuring", pathlib.Path("submissions"), labs_dir=pathlib.Path("_build/labs"))  # doctest: +SKIP
        PosixPath('_build/labs/measuring/grades/grades.csv')
    """
    if not submissions.is_dir():
        raise SystemExit(f"error: SUBMISSIONS={submissions} is not a folder: give the folder of submitted notebooks")
    if build:
        autograder = ensure_built(lab, labs_dir)
    else:
        autograder = labs_dir / lab / "autograder"
        if not (autograder / "tests").is_dir():
            raise SystemExit(f"error: {autograder / 'tests'} is missing: run `make labs` first (lab {lab!r})")
    files = sorted(path for path in submissions.iterdir() if path.is_file() and not path.name.startswith("."))
    if not files:
        raise SystemExit(f"error: {submissions} holds no file to grade")
    questions = load_questions(autograder / "tests")
    expected_checks = _expected_checks(autograder, lab)
    answers = written_answers(autograder / f"{lab}.ipynb")
    build_digest = hashlib.sha256(b"".join(path.read_bytes() for path in sorted((autograder / "tests").glob("*.py")))).hexdigest()[:16]
    out = out or labs_dir / lab / "grades" / "grades.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    feedback_dir = out.parent / "feedback"
    feedback_dir.mkdir(exist_ok=True)
    manual_path = out.parent / "manual.csv"
    columns = [*FIXED_COLUMNS, *questions, DIGEST_COLUMN]
    manual_columns = ["student", "file", "question", "answer", "max_points", "points"]

    earlier = {row["file"]: row for row in _read_csv(out)}
    earlier_manual = {(row["file"], row["question"]): row for row in _read_csv(manual_path)}
    rows = {name: row for name, row in earlier.items() if set(questions) <= set(row)}
    manual_rows = dict(earlier_manual)
    lock = threading.Lock()

    def save():
        ordered = [rows[name] for name in sorted(rows, key=_natural)]
        problems = merge_manual(ordered, list(manual_rows.values()))
        _write_atomically(out, _csv_text(columns, ordered))
        _write_atomically(manual_path, _csv_text(manual_columns, [manual_rows[key] for key in sorted(manual_rows)]))
        return problems

    hide = sorted({os.path.realpath(path) for path in [
        *(entry for entry in ROOT.iterdir() if entry.name not in grading_sandbox.KEPT_IN_ROOT),
        labs_dir, submissions, out.parent]})
    base = grading_sandbox.make_base()
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(max(1, int(jobs))):
        slots.put(slot)
    if not quiet:
        print(grading_sandbox.protection())

    def grade(path):
        digest = hashlib.sha256(path.read_bytes() + build_digest.encode()).hexdigest()[:16]
        if not regrade and path.name in rows and rows[path.name].get(DIGEST_COLUMN) == digest:
            if not quiet:
                print(f"{path.name}: unchanged since it was graded: kept ({rows[path.name]['score']}/{rows[path.name]['possible']})")
            return
        slot = slots.get()
        start = time.perf_counter()
        try:
            row, feedback, written = grade_one(
                path, lab=lab, questions=questions, expected_checks=expected_checks, answers=answers, base=base,
                hide=hide, slot=slot, timeout=timeout, cell_timeout=cell_timeout, max_output=max_output)
        except Exception as error:  # noqa: BLE001 - the grader's own failure on one file still gives a row
            row = {"student": student_name(path), "file": path.name, "score": 0.0, "possible": sum(
                spec["points"] for spec in questions.values()), "reason": f"grading failed ({type(error).__name__}: {error})"}
            row.update({name: 0.0 for name in questions})
            feedback, written = [f"Not graded: {row['reason']}."], {}
        finally:
            slots.put(slot)
        row[DIGEST_COLUMN] = digest
        header = [f"# {lab}: feedback for {row['student']} ({path.name})", "",
                  f"Score: {row['score']:g} / {row['possible']:g} (autograded; written answers are marked by hand)", ""]
        with lock:
            rows[path.name] = row
            for name in answers:
                key = (path.name, name)
                previous = earlier_manual.get(key)
                text = written.get(name, "")
                kept = previous.get("points", "") if previous and previous.get("answer", "") == text else ""
                manual_rows[key] = {"student": row["student"], "file": path.name, "question": name, "answer": text,
                                    "max_points": f"{MANUAL_POINTS_PER_ANSWER:g}", "points": kept}
            _write_atomically(feedback_dir / f"{row['student']}.md", "\n".join(header + feedback) + "\n")
            save()
        if not quiet:
            print(f"{path.name}: {row['score']:g}/{row['possible']:g} ({time.perf_counter() - start:.0f} s) {row['reason']}")

    from concurrent.futures import ThreadPoolExecutor

    try:
        with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
            list(pool.map(grade, files))
        with lock:
            problems = save()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab")
    parser.add_argument("--submissions")
    parser.add_argument("--labs-dir", default=str(ROOT / "_build" / "labs"))
    parser.add_argument("--out", help="the CSV to write (default _build/labs/<lab>/grades/grades.csv)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one submission may run in all")
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds one cell may run before it is interrupted")
    parser.add_argument("--max-output", type=int, default=1_000_000, help="bytes of output kept per submission")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time (default 1)")
    parser.add_argument("--regrade", action="store_true", help="grade every file again, even those unchanged")
    arguments = parser.parse_args(argv)
    if not arguments.lab or not arguments.submissions:
        parser.error("give --lab <lab> and --submissions <folder> (make grade LAB=<lab> SUBMISSIONS=<folder>)")
    out = grade_folder(arguments.lab, pathlib.Path(arguments.submissions), labs_dir=pathlib.Path(arguments.labs_dir),
                       out=pathlib.Path(arguments.out) if arguments.out else None, timeout=arguments.timeout,
                       cell_timeout=arguments.cell_timeout, max_output=arguments.max_output, jobs=arguments.jobs,
                       regrade=arguments.regrade)
    print(f"grades: {out}\nfeedback: {out.parent / 'feedback'}\nwritten answers to mark: {out.parent / 'manual.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
