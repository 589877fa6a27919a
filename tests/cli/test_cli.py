"""The command as a whole: help with an example on every command, one-line usage errors, colour
only on a terminal, and the function's cold start untouched by it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import tomllib

import pytest

from .support import ROOT, airhook

COMMANDS = ("send", "explain", "check", "redeliver-github")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = airhook(command, "--help")
    assert result.code == 0
    assert "examples:\n" in result.stdout and f"  airhook {command} " in result.stdout
    assert "--json" in result.stdout


def test_top_level_help_and_no_command() -> None:
    result = airhook("--help")
    assert result.code == 0 and all(c in result.stdout for c in COMMANDS)
    bare = airhook()
    assert bare.code == 2 and "usage: airhook" in bare.stderr


@pytest.mark.parametrize("args, message", [
    (["frobnicate"], "airhook: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (["send"], "airhook: error: the following arguments are required: SOURCE (see airhook send --help)"),
    (["redeliver-github", "--repo", "a/b"], "airhook: error: the following arguments are required: --hook-id"),
    (["send", "github", "--payload", "a", "--example", "b"], "airhook: error: argument --example: not allowed "
                                                             "with argument --payload/-p"),
])
def test_usage_errors_are_one_line(args: list[str], message: str) -> None:
    result = airhook(*args)
    assert result.code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(message)


def test_colour_only_on_a_terminal() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(PYTHONPATH=str(ROOT), TERM="xterm")
    args = [sys.executable, "-m", "airhook", "check", str(ROOT / "tests/cli/configs/broken.yaml")]
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(args, env=env, cwd=ROOT, stdout=follower, stderr=subprocess.PIPE, timeout=60)
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(leader)
    assert done.returncode == 1
    assert b"\033[31m" in output  # the problem count in red
    piped = airhook("check", str(ROOT / "tests/cli/configs/broken.yaml"))
    assert "\033[" not in piped.stdout
    no_color = subprocess.run(args, env={**env, "NO_COLOR": "1"}, cwd=ROOT, capture_output=True, timeout=60)
    assert b"\033[" not in no_color.stdout


def test_the_function_never_imports_the_command_line() -> None:
    code = ("import sys, airhook.http, airhook.receiver, airhook.config; "
            "print(sorted(m for m in sys.modules if m.startswith('airhook.cli')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "airhook.cli" not in (ROOT / "main.py").read_text()


def test_console_script_and_package_data_are_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"airhook": "airhook.cli:main"}
    packages = project["tool"]["setuptools"]["packages"]
    assert {"airhook.cli", "airhook.cli.examples"} <= set(packages)
    patterns = project["tool"]["setuptools"]["package-data"]["airhook.cli.examples"]
    shipped = {p.relative_to(ROOT / "airhook/cli/examples") for p in (ROOT / "airhook/cli/examples").rglob("*.*")
               if p.suffix in (".json", ".txt")}
    assert shipped and all(any(p.match(pattern) for pattern in patterns) for p in shipped)
