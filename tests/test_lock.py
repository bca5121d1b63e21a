"""requirements.lock pins the whole stack (every indirect dependency) at the versions the requirements files pin."""

from __future__ import annotations

import re

from helpers import REPOSITORY

LOCK = REPOSITORY / "requirements.lock"
# What `make lock` compiles (the Makefile's LOCK_INPUTS); requirements-colab.txt is Colab's, not locked.
INPUTS = ["requirements.txt", "requirements-jax.txt", "requirements-browser.txt", "requirements-labs.txt"]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;#]+)")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines(text: str) -> list[str]:
    return [line.split(" #", 1)[0].strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _locked() -> dict[str, str]:
    lines = [line for line in _requirement_lines(LOCK.read_text(encoding="utf-8"))]
    locked = {}
    for line in lines:
        match = PIN.match(line)
        assert match, f"requirements.lock: {line!r} is not an exact pin"
        locked[_normalise(match["name"])] = match["version"]
    return locked


def test_every_pin_of_the_requirements_files_is_the_locked_version():
    locked = _locked()
    for name in INPUTS:
        for line in _requirement_lines((REPOSITORY / name).read_text(encoding="utf-8")):
            if line.startswith("-e ") or line.startswith("-"):
                continue
            match = PIN.match(line)
            assert match, f"{name}: {line!r} is not pinned (name==version); pin it, then run make lock"
            package = _normalise(match["name"])
            assert package in locked, f"{name} pins {line} but requirements.lock lacks it: run make lock and commit the lock"
            assert locked[package] == match["version"], (
                f"{name} pins {line}, requirements.lock {package}=={locked[package]}: run make lock and commit the lock"
            )


def test_the_lock_holds_the_indirect_dependencies_too():
    locked = _locked()
    # what the book's theme and TensorFlow pull in without anyone pinning them by hand
    for indirect in ("sphinx-book-theme", "pydata-sphinx-theme", "protobuf", "sphinx", "docutils", "myst-parser", "jaxlib"):
        assert indirect in locked, f"requirements.lock does not pin {indirect}"
    assert "medcnn" not in locked and "setuptools" not in locked


def test_make_and_ci_install_with_the_lock():
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    assert "LOCK := requirements.lock" in makefile
    installs = re.findall(r"pip install --quiet \$\(2\) -c \$\(LOCK\)", makefile)
    assert installs, "the Makefile's installs do not use the lock as constraints"
    assert re.search(r"^\$\(VENV\)/\.installed: requirements\.txt \$\(LOCK\)", makefile, flags=re.M)
    assert "locked_install,requirements,-r requirements.txt" in makefile
    assert "-r requirements-jax.txt -r requirements-browser.txt -r requirements-labs.txt" in makefile
