"""docs/cli.md documents the command line as it is (sqlite-utils' test_docs idea): every
command has its own section, every argument and option of a command is named in its
section, and every command and option a section's heading names exists."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from unerased.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
HEADING = re.compile(r"^(#{2,6})\s+(.*)$")


def _commands(cmd: click.Command = cli, path: tuple[str, ...] = ("unerased",)
              ) -> dict[tuple[str, ...], click.Command]:
    out = {path: cmd}
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            out |= _commands(sub, (*path, name))
    return out


COMMANDS = _commands()


def _sections() -> dict[tuple[str, ...], tuple[str, str]]:
    """Command path -> (its heading's text, its section: the heading up to the next)."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if HEADING.match(line)]
    out: dict[tuple[str, ...], tuple[str, str]] = {}
    for k, i in enumerate(starts):
        title = HEADING.match(lines[i]).group(2).replace("`", "").strip()  # type: ignore[union-attr]
        words = title.split()
        if not words or words[0] != "unerased":
            continue
        cmd: click.Command = cli
        path = ["unerased"]
        for w in words[1:]:
            if not (isinstance(cmd, click.Group) and w in cmd.commands):
                break
            cmd = cmd.commands[w]
            path.append(w)
        assert tuple(path) not in out, f"two sections for {' '.join(path)}"
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        out[tuple(path)] = (title, "\n".join(lines[i:end]))
    return out


SECTIONS = _sections()


def _names(cmd: click.Command) -> list[str]:
    names: list[str] = []
    for p in cmd.params:
        if isinstance(p, click.Option):
            names += p.opts + p.secondary_opts
        else:
            names.append(p.human_readable_name)
    return names


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_and_option_is_documented(path: tuple[str, ...]) -> None:
    assert path in SECTIONS, f"docs/cli.md has no section for `{' '.join(path)}`"
    _, section = SECTIONS[path]
    cmd = COMMANDS[path]
    names = _names(cmd)
    if path == ("unerased",):
        names += ["-h", "--help"]
    missing = [n for n in names if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", section)]
    assert missing == [], f"`{' '.join(path)}`: {missing} not documented in docs/cli.md"


def test_documented_commands_and_options_exist() -> None:
    for path, (title, _) in SECTIONS.items():
        rest = title.split()[len(path):]
        assert not rest or not rest[0][0].isalpha() or rest[0].isupper(), \
            f"docs/cli.md: `{title}` names no command of unerased"
        known = set(_names(COMMANDS[path])) | {"-h", "--help"}
        for opt in re.findall(r"(?<![\w-])--?[a-z][\w-]*", title):
            assert opt in known, f"docs/cli.md: `{title}`: {opt} is not an option of it"


def test_the_check_sees_the_document() -> None:
    assert ("unerased", "watch", "add") in SECTIONS and ("unerased",) in SECTIONS
    assert "--service" in SECTIONS[("unerased", "watch", "add")][1]
    assert "--service" not in SECTIONS[("unerased", "watch", "list")][1]
