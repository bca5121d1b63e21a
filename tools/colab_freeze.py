"""Check the Colab pins (``requirements-colab.txt``) against Colab's published runtime.

Google publishes what its Colab runtime holds in the repository
``googlecolab/backend-info``: ``pip-freeze.gpu.txt`` (``pip freeze`` of the GPU
runtime) and ``os-info-gpu.txt`` (its Ubuntu, Python, R and Julia versions).
``requirements-colab.txt`` pins the packages the course uses at those versions,
and a comment line in it, ``# Colab's Python: 3.13``, names Colab's Python
(``colab.yml`` runs ``make test-colab`` on it).

A copy of both published files is kept in ``tools/colab_runtime/``. This tool
compares the pins with the copy (offline: what the tests run) or with the files
as Google publishes them today (``--live``: what the weekly workflow runs), and
prints each line that differs: the package, the pinned line and Colab's line.

Usage::

    python tools/colab_freeze.py            # the pins against the stored copy (offline)
    python tools/colab_freeze.py --live     # the pins against Colab's published files (network)
    python tools/colab_freeze.py --update   # replace the stored copy with the published files

When ``--live`` fails, Colab has moved: run ``--update``, change the pins (and
``# Colab's Python``) to the lines it printed, run ``make test-colab``, commit.

Example:
    >>> pins = parse_pins("numpy==2.1.3\\n# Colab's Python: 3.13\\n")
    >>> runtime = Runtime(freeze=parse_freeze("numpy==2.0.2\\n"), python="3.13")
    >>> [str(difference) for difference in differences(pins, runtime)]
    ['numpy: requirements-colab.txt pins numpy==2.1.3; Colab has numpy==2.0.2']
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
PINS_FILE = REPOSITORY_ROOT / "requirements-colab.txt"
STORED_FOLDER = Path(__file__).resolve().parent / "colab_runtime"
PUBLISHED = "https://raw.githubusercontent.com/googlecolab/backend-info/main/"
FREEZE_NAME = "pip-freeze.gpu.txt"
OS_INFO_NAME = "os-info-gpu.txt"
PYTHON_COMMENT = re.compile(r"^#\s*Colab's Python:\s*(?P<version>3\.\d+)\s*$", re.M)
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*(?P<version>\S+)\s*$")
FREEZE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==|\s@\s)")


def normalise(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): ``Jinja2`` and ``jinja2`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pins:
    """What ``requirements-colab.txt`` says: ``packages`` (normalised name -> pinned line) and Colab's Python."""

    packages: dict[str, str]
    python: str | None


@dataclass(frozen=True)
class Runtime:
    """Colab's published runtime: ``freeze`` (normalised name -> ``pip freeze`` line) and its Python (``3.13``)."""

    freeze: dict[str, str]
    python: str | None


@dataclass(frozen=True)
class Difference:
    """One pin that is not what Colab runs (``colab`` is None when Colab lacks the package)."""

    name: str
    pinned: str
    colab: str | None

    def __str__(self) -> str:
        found = f"Colab has {self.colab}" if self.colab else "Colab's freeze does not list it"
        return f"{self.name}: requirements-colab.txt pins {self.pinned}; {found}"


def parse_pins(text: str, *, source: str = "requirements-colab.txt") -> Pins:
    """Read the pins (``name==version`` lines) and the ``# Colab's Python: 3.x`` comment.

    Raises:
        ValueError: naming the line, for a requirement that is not an exact ``==`` pin.

    Example:
        >>> parse_pins("Keras==3.13.2  # the backend-agnostic API\\n").packages
        {'keras': 'keras==3.13.2'}
    """
    packages = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if not match:
            raise ValueError(f"{source}, line {number}: {raw.strip()!r} is not an exact pin (name==version); pin it as Colab's freeze lists it")
        packages[normalise(match["name"])] = f"{match['name'].lower()}=={match['version']}"
    python = PYTHON_COMMENT.search(text)
    return Pins(packages=packages, python=python["version"] if python else None)


def parse_freeze(text: str) -> dict[str, str]:
    """``pip freeze`` output as a mapping normalised name -> its line (``name==version`` or ``name @ url``).

    Example:
        >>> parse_freeze("# a comment\\nJinja2==3.1.6\\n")
        {'jinja2': 'Jinja2==3.1.6'}
    """
    freeze = {}
    for raw in text.splitlines():
        line = raw.strip()
        match = FREEZE_LINE.match(line)
        if match and not line.startswith("#"):
            freeze[normalise(match["name"])] = line
    return freeze


def parse_python(os_info: str) -> str | None:
    """The ``3.x`` of the ``Python 3.x.y`` line of ``os-info-gpu.txt`` (None if absent).

    Example:
        >>> parse_python("Ubuntu 22.04.5 LTS\\nPython 3.13.15\\n")
        '3.13'
    """
    match = re.search(r"^Python (?P<major_minor>3\.\d+)(?:\.\d+)?\s*$", os_info, flags=re.M)
    return match["major_minor"] if match else None


def _same(pinned: str, colab_line: str) -> bool:
    name, _, version = pinned.partition("==")
    match = re.match(r"^(?P<name>[^=\s@]+)==(?P<version>\S+)$", colab_line)
    return bool(match) and normalise(match["name"]) == normalise(name) and match["version"] == version


def differences(pins: Pins, runtime: Runtime) -> list[Difference]:
    """Every pin whose line differs from Colab's, and Colab's Python if the pins name another.

    Example:
        >>> pins = parse_pins("keras==3.13.2\\n")
        >>> differences(pins, Runtime(freeze=parse_freeze("keras==3.13.2\\n"), python=None))
        []
    """
    found = []
    for name, pinned in sorted(pins.packages.items()):
        colab = runtime.freeze.get(name)
        if colab is None or not _same(pinned, colab):
            found.append(Difference(name=name, pinned=pinned, colab=colab))
    if runtime.python and pins.python != runtime.python:
        found.append(
            Difference(name="python", pinned=f"# Colab's Python: {pins.python}", colab=f"# Colab's Python: {runtime.python}")
        )
    return found


def stored_runtime(folder: Path | None = None) -> Runtime:
    """The copy of Colab's published files kept in ``tools/colab_runtime/`` (or in ``folder``)."""
    folder = folder or STORED_FOLDER
    freeze = folder / FREEZE_NAME
    if not freeze.is_file():
        raise FileNotFoundError(f"{freeze} is missing: run python tools/colab_freeze.py --update (needs the network)")
    os_info = folder / OS_INFO_NAME
    python = parse_python(os_info.read_text(encoding="utf-8")) if os_info.is_file() else None
    return Runtime(freeze=parse_freeze(freeze.read_text(encoding="utf-8")), python=python)


def _download(name: str, *, base: str = PUBLISHED, timeout: float = 60) -> str:
    request = urllib.request.Request(base + name, headers={"User-Agent": "medcnn-colab-freeze-check"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode("utf-8")
    except OSError as error:
        raise RuntimeError(f"could not read Colab's {name} from {base + name}: {error}") from error


def published_runtime(*, base: str = PUBLISHED) -> tuple[Runtime, dict[str, str]]:
    """Colab's files as published today (network); also returns their texts by file name."""
    texts = {name: _download(name, base=base) for name in (FREEZE_NAME, OS_INFO_NAME)}
    return Runtime(freeze=parse_freeze(texts[FREEZE_NAME]), python=parse_python(texts[OS_INFO_NAME])), texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--live", action="store_true", help="compare with Colab's published files (network)")
    group.add_argument("--update", action="store_true", help="replace the stored copy with Colab's published files")
    parser.add_argument("--pins", type=Path, default=PINS_FILE, help="the pins file (default: requirements-colab.txt)")
    parser.add_argument("--base", default=PUBLISHED, help="where Colab's files are published")
    arguments = parser.parse_args(argv)

    if arguments.update:
        _, texts = published_runtime(base=arguments.base)
        STORED_FOLDER.mkdir(exist_ok=True)
        for name, text in texts.items():
            (STORED_FOLDER / name).write_text(text, encoding="utf-8")
            print(f"wrote {STORED_FOLDER.relative_to(REPOSITORY_ROOT) / name} from {arguments.base + name}")
    pins = parse_pins(arguments.pins.read_text(encoding="utf-8"), source=str(arguments.pins))
    if arguments.live:
        runtime, _ = published_runtime(base=arguments.base)
        against = f"Colab's published runtime ({arguments.base})"
    else:
        runtime = stored_runtime()
        against = f"the stored copy ({STORED_FOLDER.relative_to(REPOSITORY_ROOT)})"
    found = differences(pins, runtime)
    for difference in found:
        print(difference, file=sys.stderr)
    if found:
        print(
            f"{len(found)} pin(s) differ from {against}. Colab has moved: run python tools/colab_freeze.py --update, "
            "set requirements-colab.txt to Colab's lines above, run make test-colab, commit.",
            file=sys.stderr,
        )
        return 1
    print(f"{len(pins.packages)} Colab pins equal {against}; Colab's Python {pins.python}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
