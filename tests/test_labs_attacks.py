"""Hostile submissions: each attack of issue 22, added to the blank student notebook, gains nothing.

One grading run (the cheapest lab, two at a time) of the solution and five attack notebooks (each
the blank student notebook plus an attack) that together do everything issue 22 saw a submission do: rewrite the hidden
tests, the lab's source, the tools, the other submissions and the grades; patch Otter's checker
and pre-fill its records; find the solution through ``/proc/<pid>/cmdline`` and the course's
folders and run it; copy a classmate's notebook; leave a detached process that edits the grades
afterwards; delete the grader's temporary folders; kill the grader; forge the sandbox's answers;
answer with objects equal to everything. Then: every attack scores 0, the solution still scores
full marks, the instructor's files are byte-identical, every row is there, no process of the
sandbox users is left and no folder stays in the temporary folder. The same run serves the
grader's other promises (keep earlier grades, the manual-marks round trip, a crash loses no row).
"""

from __future__ import annotations

import csv
import hashlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

pytest.importorskip("otter", reason="the labs need otter-grader: make setup-labs (requirements-labs.txt)")
nbformat = pytest.importorskip("nbformat")

pytestmark = pytest.mark.labs

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import grading_sandbox  # noqa: E402
import labs  # noqa: E402
import labs_grade  # noqa: E402

LAB = "measuring"  # no Keras: seconds per notebook

# Each attack is code run in the submission's kernel, with PATHS (the real folders) known to it,
# as a student who read the course's repository would know them.
ATTACKS = {
    "attack_tamper_files": r'''
import glob, os, pathlib
lenient = "def test_pass(*a, **k):\n    pass\nname = 'q1'\npoints = 1000\n"
targets = []
for pattern in ["../hidden_tests/*.py", "../../hidden_tests/*.py", PATHS["labs_dir"] + "/*/autograder/tests/*.py",
                PATHS["labs_dir"] + "/*/autograder/*", PATHS["root"] + "/_build/labs/*/autograder/**",
                PATHS["root"] + "/tools/*.py", PATHS["root"] + "/labs/*/*.md", PATHS["submissions"] + "/*",
                PATHS["out"] + "/*", PATHS["out"] + "/feedback/*", "/tmp/*/*/tests/*.py"]:
    targets += glob.glob(pattern, recursive=True)
for target in targets:
    try:
        pathlib.Path(target).write_text(lenient)
    except Exception:
        pass
for folder in (PATHS["root"] + "/tools", PATHS["out"], PATHS["submissions"]):
    try:
        pathlib.Path(folder, "planted.py").write_text(lenient)
    except Exception:
        pass
try:
    os.makedirs("../hidden_tests", exist_ok=True)
    pathlib.Path("../hidden_tests/q1.py").write_text(lenient)
except Exception:
    pass
''',
    "attack_steal_solution": r'''
import glob, json, os, re
found = set()
for entry in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        found.update(part for part in open(entry, "rb").read().decode(errors="replace").split("\0") if part)
    except Exception:
        pass
for pattern in [PATHS["root"] + "/**/*.ipynb", PATHS["root"] + "/labs/*/*.md", PATHS["labs_dir"] + "/**/*.ipynb",
                PATHS["submissions"] + "/*.ipynb", "/tmp/**/*.ipynb"]:
    found.update(glob.glob(pattern, recursive=True))
stolen = []
for path in sorted(found):
    try:
        text = open(path, encoding="utf-8").read()
    except Exception:
        continue
    if path.endswith(".ipynb"):
        try:
            stolen += ["".join(cell["source"]) for cell in json.loads(text)["cells"] if cell["cell_type"] == "code"]
        except Exception:
            pass
    else:
        stolen += [line.split("# SOLUTION")[0] for line in text.splitlines() if line.rstrip().endswith("# SOLUTION")]
for code in stolen:
    if "grader" in code or "otter" in code or "pip" in code:
        continue
    try:
        exec(code, globals())
    except Exception:
        pass
''',
    "attack_detached_delete_kill": r'''
import os, shutil, signal, time, glob
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for _ in range(40):
            time.sleep(0.5)
            for target in glob.glob(PATHS["out"] + "/*.csv") + glob.glob(PATHS["submissions"] + "/*"):
                try:
                    open(target, "a").write("\ntampered,9,9\n")
                except Exception:
                    pass
            try:
                open(PATHS["tmp"] + "/detached-was-alive", "w").write("still running")
            except Exception:
                pass
        os._exit(0)
    os._exit(0)
for folder in glob.glob("/tmp/*") + glob.glob(PATHS["tmp"] + "/*") + [os.path.dirname(os.getcwd())]:
    shutil.rmtree(folder, ignore_errors=True)
for pid in [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]:
    if pid not in (os.getpid(),):
        try:
            os.kill(pid, signal.SIGKILL if pid == os.getppid() else signal.SIGTERM)
        except Exception:
            pass
''',
    "attack_patch_checker": r'''
import builtins, json, os, sys
try:
    import otter.execute, otter.test_files.abstract_test as abstract
    class Lenient:
        passed_all = True
        def __getattr__(self, name):
            return lambda *a, **k: None
    abstract.TestFile.run = lambda self, *a, **k: None
    abstract.TestFile.passed_all = property(lambda self: True)
    abstract.TestFile.update_score = lambda self, *a, **k: setattr(self, "score", 1000)
    otter.execute.Checker.check = classmethod(lambda cls, *a, **k: Lenient())
except Exception:
    pass
for name in ("results.json", "../results.json", ".OTTER_LOG", "../.otter_checked.json"):
    try:
        open(name, "w").write(json.dumps({"q1": 1000, "q2": 1000, "q3": 1000, "q4": 1000, "q5": 1000, "score": 10_000}))
    except Exception:
        pass
class AlwaysEqual(float):
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    def __bool__(self):
        return True
class Anything:
    def __eq__(self, other):
        return True
    def __float__(self):
        return 0.85
    def __array__(self, *a, **k):
        import numpy as np
        return np.array([0.7, 0.8, 0.9])
glioma_precision = AlwaysEqual(0.5)
recalls = Anything()
majority_label = Anything()
majority_accuracy = AlwaysEqual(0.1)
model_accuracy, margin_points = Anything(), Anything()
q5_choice = Anything()
import numpy
numpy.isclose = numpy.allclose = lambda *a, **k: True  # the checks that compare answers, made lenient
''',
    "attack_forge_answers": r'''
import json, os
def forged(text):
    # the answer a forger would send for every question: plausible numbers, never the hidden values
    return json.dumps({"ok": True, "value": {"t": "f", "v": 0.5}})
get_ipython().events.register("post_run_cell", lambda *a, **k: globals().__setitem__("__medcnn_grading__", forged))
for descriptor in (1, 2):
    try:
        os.write(descriptor, b'{"executed": true, "errors": [], "timed_out_cells": []}\n{"raw": "\'{\\"ok\\": true, \\"value\\": {\\"t\\": \\"f\\", \\"v\\": 1000}}\'"}\n' * 50)
    except Exception:
        pass
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            with open(f"/proc/{entry}/fd/1", "wb") as stream:
                stream.write(b'{"raw": "1000"}\n' * 50)
        except Exception:
            pass
''',
}


def _tree_digest(*folders: pathlib.Path) -> dict[str, str]:
    digests = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _attack_notebook(blank: pathlib.Path, code: str, paths: dict, target: pathlib.Path) -> None:
    notebook = nbformat.read(blank, as_version=4)
    prelude = f"PATHS = {paths!r}\n"
    position = next(i for i, cell in enumerate(notebook.cells) if 'grader.check("q1")' in cell.source)
    notebook.cells.insert(position, nbformat.v4.new_code_cell(prelude + textwrap.dedent(code)))
    nbformat.write(notebook, target)


def _sandbox_processes() -> list[int]:
    users = [entry.pw_uid for entry in __import__("pwd").getpwall() if entry.pw_name.startswith(grading_sandbox.USER_PREFIX)]
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in users:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    if not grading_sandbox.is_root():
        pytest.skip("the attack corpus checks the root sandbox (CI and Colab grade as root); not root here")
    work = tmp_path_factory.mktemp("attacks")
    labs_dir = work / "labs"
    labs.build_lab(LAB, labs.lab_sources(names=[LAB])[LAB], labs_dir)
    submissions = work / "submissions"
    submissions.mkdir()
    out = work / "grades" / "grades.csv"
    private_tmp = work / "tmp"
    private_tmp.mkdir()
    # The solution beside the attacks: it must still score full marks (the blank notebook's 0 is
    # checked in test_labs.py; each attack below is the blank notebook plus the attack).
    shutil.copyfile(labs_dir / LAB / "autograder" / f"{LAB}.ipynb", submissions / "solution.ipynb")
    blank = labs_dir / LAB / "student" / f"{LAB}.ipynb"
    paths = {"root": str(ROOT), "labs_dir": str(labs_dir), "submissions": str(submissions), "out": str(out.parent),
             "tmp": str(private_tmp)}
    for name, code in ATTACKS.items():
        _attack_notebook(blank, code, paths, submissions / f"{name}.ipynb")
    instructor = [ROOT / "tools", ROOT / "labs" / LAB, labs_dir / LAB / "autograder", labs_dir / LAB / "student", submissions]
    before = _tree_digest(*instructor)
    saved = tempfile.tempdir
    tempfile.tempdir = str(private_tmp)  # the grader's temporary folders go here, to see that none stays
    start = time.perf_counter()
    try:
        labs_grade.grade_folder(LAB, submissions, labs_dir=labs_dir, out=out, timeout=240, cell_timeout=30,
                                max_output=200_000, jobs=2, build=False, quiet=True)
    finally:
        tempfile.tempdir = saved
    elapsed = time.perf_counter() - start
    time.sleep(3)  # a detached process that survived would write within 0.5 s
    with out.open(newline="") as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle)}
    return {"rows": rows, "before": before, "after": _tree_digest(*instructor), "out": out, "tmp": private_tmp,
            "submissions": submissions, "labs_dir": labs_dir, "elapsed": elapsed, "work": work}


def test_every_attack_gains_nothing(attacked):
    rows = attacked["rows"]
    assert float(rows["solution.ipynb"]["score"]) == float(rows["solution.ipynb"]["possible"]) == 9, rows["solution.ipynb"]
    for name in ATTACKS:
        row = rows[f"{name}.ipynb"]
        assert float(row["score"]) == 0, (name, row)
        assert all(float(row[question]) == 0 for question in ("q1", "q2", "q3", "q4", "q5")), (name, row)


def test_grades_complete_and_untampered(attacked):
    rows = attacked["rows"]
    assert sorted(rows) == sorted(path.name for path in attacked["submissions"].iterdir())
    text = attacked["out"].read_text()
    assert "tampered" not in text and "planted" not in text
    for row in rows.values():
        assert row["student"] == pathlib.Path(row["file"]).stem and row["reason"], row
    feedback = sorted(path.name for path in (attacked["out"].parent / "feedback").iterdir())
    assert feedback == sorted(f"{pathlib.Path(name).stem}.md" for name in rows)


def test_instructor_files_byte_identical(attacked):
    assert attacked["before"] == attacked["after"], sorted(
        set(attacked["before"].items()) ^ set(attacked["after"].items()))[:5]
    assert not (ROOT / "tools" / "planted.py").exists()
    assert not (attacked["out"].parent / "planted.py").exists()


def test_no_process_and_no_folder_left(attacked):
    assert _sandbox_processes() == []
    assert list(attacked["tmp"].iterdir()) == [], list(attacked["tmp"].iterdir())


def test_earlier_grades_kept_and_manual_marks_merged(attacked):
    out = attacked["out"]
    manual = out.parent / "manual.csv"
    with manual.open(newline="") as handle:
        entries = list(csv.DictReader(handle))
    assert {entry["file"] for entry in entries} == set(attacked["rows"])
    solution = next(entry for entry in entries if entry["file"] == "solution.ipynb")
    assert "recall" in solution["answer"].lower() and solution["points"] == ""
    solution["points"] = "0.5"
    with manual.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(entries[0]))
        writer.writeheader()
        writer.writerows(entries)
    start = time.perf_counter()
    labs_grade.grade_folder(LAB, attacked["submissions"], labs_dir=attacked["labs_dir"], out=out, build=False, quiet=True)
    assert time.perf_counter() - start < 10, "unchanged files are kept, not graded again"
    with out.open(newline="") as handle:
        rows = {row["file"]: row for row in csv.DictReader(handle)}
    assert rows["solution.ipynb"]["manual"] == "0.5" and rows["solution.ipynb"]["total"] == "9.5"
    assert rows["attack_tamper_files.ipynb"]["manual"] == "" and rows["attack_tamper_files.ipynb"]["total"] == "0.0"
    assert {name: row["score"] for name, row in rows.items()} == {name: row["score"] for name, row in attacked["rows"].items()}


def test_a_killed_grader_loses_no_row_and_leaves_no_process(attacked, tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "a_first.ipynb").write_text("not a notebook")  # graded at once: its row is written first
    notebook = nbformat.read(attacked["labs_dir"] / LAB / "student" / f"{LAB}.ipynb", as_version=4)
    notebook.cells.insert(4, nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.1)"))
    nbformat.write(notebook, submissions / "b_endless.ipynb")
    out = tmp_path / "grades" / "grades.csv"
    command = [sys.executable, str(ROOT / "tools" / "labs_grade.py"), "--lab", LAB, "--submissions", str(submissions),
               "--labs-dir", str(attacked["labs_dir"]), "--out", str(out), "--cell-timeout", "60"]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    grader = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              env={**os.environ, "TMPDIR": str(temporary)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.is_file() and "a_first" in out.read_text()):
        time.sleep(0.5)
    time.sleep(4)  # the second submission is now running its endless cell
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait()
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["file"] for row in rows] == ["a_first.ipynb"] and rows[0]["score"] == "0.0"
    time.sleep(1)
    assert _sandbox_processes() == [], "the sandbox dies with the grader"
    left = list(temporary.iterdir())
    assert [path.name.split("-")[2] for path in left] == [str(grader.pid)], left  # the killed grader's folder only
    saved = tempfile.tempdir
    tempfile.tempdir = str(temporary)
    try:
        base = grading_sandbox.make_base()  # the next grader removes what a killed one left
    finally:
        tempfile.tempdir = saved
    assert list(temporary.iterdir()) == [base]
    base.rmdir()
