"""The package's shape: imports go one way, one writer of files, choices from the registries.

The import graph is read from the source, not from what Python happened to import: every
``import`` and ``from … import`` in every module, inside functions too, plus the modules a
registry loads by name (``importlib.import_module(f"medcnn.datasets.{key}")`` counts as an
import of every module of ``medcnn.datasets``, an over-estimate that can only add cycles).
A by-name load the reader cannot resolve fails the test rather than being skipped.
"""

import ast
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import medcnn
from medcnn.datasets import DATASET_KEYS

PACKAGE = Path(medcnn.__file__).resolve().parent


def package_modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name → file, for every module of the package in ``package_dir``."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _by_name_targets(call: ast.Call, modules: dict[str, Path], where: str) -> list[str]:
    """The package's modules an ``importlib.import_module``/``__import__`` call can load."""
    argument = call.args[0]
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return [argument.value]
    if isinstance(argument, ast.JoinedStr) and argument.values and isinstance(argument.values[0], ast.Constant):
        prefix = argument.values[0].value
        if not prefix.endswith("."):
            raise AssertionError(f"{where}: a by-name import the test cannot follow ({prefix!r}...)")
        # every module directly under the prefix (an over-estimate: it can add a cycle, never hide one)
        return [name for name in modules if name.startswith(prefix) and "." not in name[len(prefix):]] or [prefix]
    raise AssertionError(f"{where}: a by-name import the test cannot follow; name the module in the source")


def import_edges(name: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The package's modules that module ``name`` imports (anywhere in it), with a line of each."""
    top = name.split(".")[0]
    in_package = path.name == "__init__.py"
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = name.split(".") if in_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and not str(argument.value).startswith(top + "."):
                continue  # a third-party module by name (tensorflow, jax)
            if isinstance(argument, ast.JoinedStr) and not (
                    isinstance(argument.values[0], ast.Constant) and argument.values[0].value.startswith(top + ".")):
                continue  # keras.applications.<module>
            targets = _by_name_targets(node, modules, f"{path}:{node.lineno}")
        for target in targets:
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                found.setdefault(target, node.lineno)
    return found


@functools.cache
def import_graph(package_dir: Path) -> dict[str, dict[str, int]]:
    modules = package_modules(package_dir)
    return {name: import_edges(name, path, modules) for name, path in modules.items()}


def package_of(module: str) -> str:
    """The part of the package a module belongs to: ``medcnn.images.decode`` → ``medcnn.images``.

    A ``__main__`` module is an entry point of its own: nothing imports it (a test below
    checks), and importing its package does not run it.
    """
    parts = module.split(".")
    return module if parts[-1] == "__main__" else ".".join(parts[:2])


def package_graph(graph: dict[str, dict[str, int]]) -> dict[str, dict[str, str]]:
    """Edges between parts of the package, each with the first import that makes it (``module:line``)."""
    packages: dict[str, dict[str, str]] = {}
    for name, targets in graph.items():
        packages.setdefault(package_of(name), {})
        for target, line in targets.items():
            if package_of(target) != package_of(name):
                packages[package_of(name)].setdefault(package_of(target), f"{name}:{line}")
    return packages


def cycles(graph: dict) -> list[list[str]]:
    """Every strongly connected group of more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def describe(groups: list[list[str]], graph: dict) -> str:
    return "; ".join(
        " / ".join(f"{source} -> {target} ({graph[source][target]})"
                   for source in group for target in graph[source] if target in group)
        for group in groups)


def import_cycles(package_dir: Path) -> tuple[str, str]:
    """The cycles between modules and between packages, described (empty when none)."""
    graph = import_graph(package_dir)
    packages = package_graph(graph)
    return describe(cycles(graph), graph), describe(cycles(packages), packages)


def test_no_import_cycle_between_modules_or_packages():
    module_cycles, package_cycles = import_cycles(PACKAGE)
    assert module_cycles == "", f"import cycles between modules: {module_cycles}"
    assert package_cycles == "", f"import cycles between packages: {package_cycles}"


def documented_layers() -> dict[str, int]:
    """``docs/ARCHITECTURE.md``'s table of layers: part of the package -> its layer."""
    architecture = (PACKAGE.parent.parent / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", architecture.split("| layer | parts |", 1)[1].split("\n\n", 1)[0], re.M)
    return {f"medcnn.{part}": int(layer) for layer, parts in rows for part in re.findall(r"^`(\w+)`|, `(\w+)`", parts)
            for part in part if part}


def test_architecture_documents_the_layers_the_imports_follow():
    layers = documented_layers()
    packages = package_graph(import_graph(PACKAGE))
    parts = {name for name in packages if name != "medcnn" and not name.endswith("__main__")}
    assert sorted(parts - set(layers)) == [], "parts missing from docs/ARCHITECTURE.md's table of layers"
    upward = [f"{source} (layer {layers[source]}) imports {target} (layer {layers[target]}) at {where}"
              for source, targets in packages.items() if source in layers
              for target, where in targets.items() if target in layers and layers[target] >= layers[source]]
    assert upward == [], "imports that do not go down the documented layers (move the import, or the row)"


def test_nothing_imports_an_entry_point():
    graph = import_graph(PACKAGE)
    importers = [f"{name} imports {target}" for name, targets in graph.items() for target in targets
                 if target.endswith("__main__")]
    assert importers == []


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


REGISTRY = (
    "import importlib\n"
    "KEYS = ('brain',)\n"
    "def get_dataset(key):\n"
    "    return importlib.import_module(f'pkg.datasets.{key}')\n"
)


@pytest.mark.parametrize("cycle, files", [
    # augment <-> datasets: the dataset record imports augment at the top; augment reaches the
    # record through the registry, by name, inside a function
    ("augment", {
        "pkg/__init__.py": "",
        "pkg/augment.py": "def settings(key):\n    from pkg.datasets import get_dataset\n"
                          "    return get_dataset(key).AUGMENTATION\n",
        "pkg/datasets/__init__.py": REGISTRY,
        "pkg/datasets/brain.py": "from pkg.augment import settings\n",
    }),
    # images.decode <-> datasets: decode asks the registry for readers inside a function; the
    # dataset's reader imports decode inside a function
    ("decode", {
        "pkg/__init__.py": "",
        "pkg/images/__init__.py": "",
        "pkg/images/decode.py": "def readers():\n    from pkg.datasets import KEYS, get_dataset\n"
                                "    return [get_dataset(key) for key in KEYS]\n",
        "pkg/datasets/__init__.py": REGISTRY,
        "pkg/datasets/brain.py": "def read(path):\n    from pkg.images.decode import readers\n",
    }),
])
def test_the_cycle_test_finds_cycles_hidden_in_functions_and_registries(tmp_path, cycle, files):
    module_cycles, package_cycles = import_cycles(_write_tree(tmp_path, files))
    assert "pkg.datasets -> pkg.datasets.brain" in module_cycles  # the by-name load is an edge
    if cycle == "augment":
        assert "pkg.augment -> pkg.datasets (pkg.augment:2)" in package_cycles
        assert "pkg.datasets -> pkg.augment (pkg.datasets.brain:1)" in package_cycles
    else:
        assert "pkg.images -> pkg.datasets (pkg.images.decode:2)" in package_cycles
        assert "pkg.datasets -> pkg.images (pkg.datasets.brain:2)" in package_cycles


def test_the_cycle_test_passes_a_tree_that_imports_one_way(tmp_path):
    package = _write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/augment.py": "from pkg.datasets import KEYS\n",
        "pkg/datasets/__init__.py": REGISTRY,
        "pkg/datasets/brain.py": "from .base import COLUMNS\n",
        "pkg/datasets/base.py": "COLUMNS = ()\n",
    })
    assert import_cycles(package) == ("", "")


def test_the_cycle_test_refuses_a_by_name_import_it_cannot_follow(tmp_path):
    package = _write_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/loader.py": "import importlib\ndef load(name):\n    return importlib.import_module('pkg.' + name)\n",
    })
    with pytest.raises(AssertionError, match="cannot follow"):
        import_graph(package)


def test_the_command_line_imports_no_deep_learning_library_before_a_command_runs():
    # the lazy rule where it matters: `python -m medcnn --help` stays fast (0.3 s, not 1.2 s with pandas)
    code = ("import sys, medcnn, medcnn.cli; medcnn.cli.build_parser(); "
            "print(sorted(name for name in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib', 'sklearn', 'pandas') if name in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_data_layer_imports_no_deep_learning_library():
    # `python -m medcnn synth|index|split` and the chapters' data steps need no Keras
    code = ("import sys, medcnn.data, medcnn.config, medcnn.splits, medcnn.augment, medcnn.samples; "
            "from medcnn.datasets import DATASET_KEYS, get_dataset; [get_dataset(key) for key in DATASET_KEYS]; "
            "print(sorted(name for name in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib', 'sklearn') "
            "if name in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


MACHINERY = ("medcnn.experiments", "medcnn.benchmark", "medcnn.cli")
"""The study's and the benchmark's machinery, and the command line above them: nothing course-facing imports them."""


def test_the_course_api_reaches_none_of_the_study_machinery():
    graph = import_graph(PACKAGE)
    reached, todo = set(), ["medcnn.course"]
    while todo:
        name = todo.pop()
        for target in graph[name]:
            if target not in reached:
                reached.add(target)
                todo.append(target)
    assert sorted(name for name in reached if name.startswith(MACHINERY)) == []


COURSE_CHAPTERS = ("datasets", "foundations")
"""The chapters that teach with the course's tools (the study's chapters show its machinery)."""
LESSON_PACKAGES = ("medcnn.pitfalls", "medcnn.transfer", "medcnn.related_work")
"""One lesson's own code, imported by that lesson alone (the pitfalls labs, chapter 7's measured
transfer learning, chapter 10's table of related work)."""


def _top_level_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def test_the_course_api_has_every_name_the_chapters_use():
    # read, not imported: importing medcnn.course imports Keras (20 s on a busy CI machine)
    modules = package_modules(PACKAGE)
    tree = ast.parse(modules["medcnn.course"].read_text(encoding="utf-8"))
    imported = {alias.asname or alias.name: node.module for node in tree.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    exported = set(next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                        and [target.id for target in node.targets] == ["__all__"]))
    assert exported == set(imported), "medcnn.course's __all__ and its imports differ"
    missing = [f"{module}.{name}" for name, module in imported.items()
               if name not in _top_level_names(modules[module])]
    assert missing == [], "medcnn.course imports names its modules do not define"
    book = PACKAGE.parent.parent / "book"
    wanted = {}
    for notebook in sorted(path for part in COURSE_CHAPTERS for path in (book / part).glob("*.ipynb")):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "\n".join(line for line in "".join(cell["source"]).splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(source)):
                if (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("medcnn")
                        and not node.module.startswith((*MACHINERY, *LESSON_PACKAGES, "medcnn.course"))):
                    for alias in node.names:
                        if not (node.module == "medcnn.datasets" and alias.name in DATASET_KEYS):  # a record
                            wanted.setdefault(alias.name, f"{notebook.name}: from {node.module}")
    assert {name: where for name, where in wanted.items() if name not in exported} == {}


ENVIRONMENT_READERS = {
    "medcnn.environment": "medcnn's own variables, USER_VARIABLES",
    "medcnn.models.backbones": "KERAS_HOME, Keras's weights folder",
    "medcnn.download.fetch": "Kaggle's credentials, to hide them from messages",
}


def test_the_package_reads_only_the_listed_environment_variables():
    from medcnn.environment import USER_VARIABLES

    readers, named = set(), set()
    for name, path in package_modules(PACKAGE).items():
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                readers.add(name)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("MEDCNN_"):
                named.add(node.value)  # a string that is a variable's name
    assert readers <= set(ENVIRONMENT_READERS), f"reads the environment: {sorted(readers - set(ENVIRONMENT_READERS))}"
    assert named <= set(USER_VARIABLES), f"variables not listed in medcnn.environment: {sorted(named - set(USER_VARIABLES))}"
    hooks = [f"{path.relative_to(PACKAGE)}" for path in PACKAGE.rglob("*.py")
             if re.search(r"MEDCNN_(FIGSHARE|REHEARSAL)", path.read_text(encoding="utf-8"))]
    assert hooks == [], "test or rehearsal hooks belong to the tests and tools, which inject them"


def test_only_medcnn_files_renames_a_file_into_place():
    renamers = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py") if path.name != "files.py" or path.parent != PACKAGE
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bos\.(replace|rename)\(|\.rename\(|\.replace\(temporary", line)
    ]
    assert renamers == [], f"write through medcnn.files instead: {renamers}"


def test_no_private_helper_is_imported_across_packages():
    offenders = []
    for name, path in package_modules(PACKAGE).items():
        top = name.split(".")[1] if "." in name else ""
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("medcnn."):
                source_top = node.module.split(".")[1]
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                if private and source_top != top:
                    offenders.append(f"{name} imports {private} from {node.module}")
    assert offenders == []


def test_command_line_choices_come_from_the_registries():
    from medcnn.cli import build_parser
    from medcnn.datasets import DATASET_KEYS
    from medcnn.experiments.stages import STUDY_DATASETS, STUDY_STAGES
    from medcnn.models.backbones import BACKBONES

    def choices(command, option):
        subparsers = next(action for action in build_parser()._actions if action.dest == "command")
        parser = subparsers.choices[command]
        return tuple(next(action for action in parser._actions if option in action.option_strings).choices)

    for command in ("download", "synth", "index", "split", "train", "cite"):
        assert choices(command, "--dataset") == DATASET_KEYS
    assert choices("train", "--backbone") == tuple(BACKBONES)
    assert choices("bench", "--backbone") == (*BACKBONES, "all")
    assert choices("study", "--dataset") == (*STUDY_DATASETS, "all")
    assert choices("study", "--stage") == (*(str(stage.number) for stage in STUDY_STAGES), "all")


def test_the_course_api_imports():
    # in the test run Keras is already imported (the test files import it when collected), so this is cheap
    import medcnn.course

    assert [name for name in medcnn.course.__all__ if not hasattr(medcnn.course, name)] == []
