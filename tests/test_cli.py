"""The command line: every command is reachable from `python -m medcnn` and has --help."""

import subprocess
import sys

import pytest

from medcnn.cli import build_parser, main

COMMANDS = ("download", "synth", "index", "split", "train", "evaluate", "study", "study-merge", "bench", "cite")


def test_top_level_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "medcnn", "--help"], capture_output=True, text=True, check=True)
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([command, "--help"])
    assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_cite_shows_source_licence_and_citation(capsys):
    assert main(["cite", "--dataset", "brain_tumor"]) == 0
    out = capsys.readouterr().out
    assert "figshare" in out and "CC BY 4.0" in out and "Cheng" in out
