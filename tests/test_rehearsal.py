"""The rehearsal's stand-ins (tools/rehearsal.py) serve what the real download code expects.

The whole rehearsal (``make rehearsal``) executes three chapters for ten minutes; this checks
its pieces in seconds: figshare's API address answers 202 with an empty body and the
package's download falls through to the mirror, checks the files and unpacks them; the
kagglehub stand-in answers like Colab's and the dataset folder is linked in place.
"""

from __future__ import annotations

import runpy
import sys
from functools import partial

import pytest

from helpers import load_tool, serving


@pytest.fixture(scope="module")
def rehearsal():
    return load_tool("rehearsal")


@pytest.fixture
def stand_ins(rehearsal, tmp_path, monkeypatch):
    sources = rehearsal._stand_in_sources(tmp_path / "workspace", images=4, seed=0)
    log: list = []
    with serving(partial(rehearsal.FigshareStandIn, files=sources["files"], log=log)) as address:
        # the rehearsal injects the stand-in with the sitecustomize.py it puts first on the kernels'
        # path; run that same file here, the brain tumor module's constants restored afterwards
        from medcnn.datasets import brain_tumor

        for name in ("FIGSHARE_API", "FIGSHARE_FILES", "FIGSHARE_PARTS"):
            monkeypatch.setattr(brain_tumor, name, getattr(brain_tumor, name))
        runpy.run_path(str(rehearsal._point_figshare_at(sources["python_path"], address, sources["parts"])))
        monkeypatch.setenv("MEDCNN_REHEARSAL_KAGGLE", str(sources["kaggle"]))  # read by the kagglehub stand-in
        monkeypatch.syspath_prepend(str(sources["python_path"]))
        real_kagglehub = sys.modules.pop("kagglehub", None)
        yield sources, log
    sys.modules.pop("kagglehub", None)  # the stand-in must not outlive this test
    if real_kagglehub is not None:
        sys.modules["kagglehub"] = real_kagglehub
    for path in sorted((tmp_path / "workspace").rglob("*"), reverse=True):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_figshare_stand_in_answers_202_then_the_mirror_serves(stand_ins, tmp_path):
    from medcnn.datasets import brain_tumor

    _, log = stand_ins
    root = brain_tumor.download(tmp_path / "data" / "brain_tumor", progress=False)
    codes = [code for code, _ in log]
    assert codes.count("202") == 5 and codes.count("200") == 5, log
    index = brain_tumor.index(root)
    assert len(index) == 12 and sorted(index["label"].unique()) == [0, 1, 2]


def test_kagglehub_stand_in_is_read_in_place(stand_ins, tmp_path):
    from medcnn.datasets import retina

    sources, _ = stand_ins
    folder = tmp_path / "data" / "retina"
    retina.download(folder, progress=False)
    assert folder.is_symlink() and folder.resolve() == (sources["kaggle"] / "andrewmvd" / "retinal-disease-classification")
    assert "retinal-disease-classification/versions/1" in (sources["kaggle"] / "calls.jsonl").read_text(encoding="utf-8")
    assert len(retina.index(folder)) > 0
