"""The package's shape: no import circle, one writer of files, choices from the registries."""

import ast
import re
from pathlib import Path

import medcnn

PACKAGE = Path(medcnn.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The medcnn modules ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("medcnn"):
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in modules)
            if node.module in modules:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
    return found


def test_no_import_circle_in_the_package():
    modules = _modules()
    # __main__ modules are entry points: nothing imports them
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    circles, state = [], {}

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(graph.get(name, ())):
            if state.get(target) == "open":
                circles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == [], "import circles: " + "; ".join(" -> ".join(circle) for circle in circles)


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
    for name, path in _modules().items():
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
    from medcnn.datasets import DATASET_KEYS, study_datasets
    from medcnn.experiments.stages import STUDY_STAGES
    from medcnn.models.backbones import BACKBONES

    def choices(command, option):
        subparsers = next(action for action in build_parser()._actions if action.dest == "command")
        parser = subparsers.choices[command]
        return tuple(next(action for action in parser._actions if option in action.option_strings).choices)

    for command in ("download", "synth", "index", "split", "train", "cite"):
        assert choices(command, "--dataset") == DATASET_KEYS
    assert choices("train", "--backbone") == tuple(BACKBONES)
    assert choices("bench", "--backbone") == (*BACKBONES, "all")
    assert choices("study", "--dataset") == (*study_datasets(), "all")
    assert choices("study", "--stage") == (*(str(stage.number) for stage in STUDY_STAGES), "all")
