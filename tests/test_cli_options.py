"""Every bad option or argument value is one line on stderr, exit 2, no traceback — click's
own usage errors included (unknown option, bad choice, out-of-range number). Before:
``--posts -5``, ``--proxy bogus://x`` and ``--db postgresql://…`` without psycopg gave
tracebacks; bad dates exited 1; ``--limit 0`` was accepted."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli_world import cli_run, one_error_line, seed
from unerased.cli import cli
from unerased.store import Store

BAD = [
    (["sample-archive", "OUT", "--posts", "-5"], "--posts"),
    (["sample-archive", "OUT", "--posts", "0"], "--posts"),
    (["sample-archive", "OUT", "--kind", "myspace"], "--kind"),
    (["search", "q", "--limit", "0"], "--limit"),
    (["search", "q", "--limit", "-1"], "--limit"),
    (["search", "q", "--limit", "99999999999999999999999"], "--limit"),
    (["search", "q", "--since", "garbage"], "garbage"),
    (["search", "q", "--until", "2024-13-45"], "2024-13-45"),
    (["search", "q", "--since", "9999-12-31T23:59:59-23:59"], "9999"),
    (["search", "q", "--status", "gone"], "--status"),
    (["events", "--since", "yesterday"], "yesterday"),
    (["events", "--type", "post_vanished"], "post_deleted"),  # lists the valid types
    (["posts", "x:alice", "--status", "bogus"], "--status"),
    (["posts", "x:alice", "--bogus"], "--bogus"),
    (["no-such-command"], "no-such-command"),
    (["export", "xml", "OUT"], "jsonl"),
    (["--proxy", "bogus://x", "events"], "bogus"),
    (["--proxy", "socks5h://", "events"], "proxy"),
    (["checkpoint", "--proxy", "bogus://x"], "bogus"),
    (["checkpoint", "--timestamp-url", "ftp://tsa.example/"], "--timestamp-url"),
    (["watch", "add", "x:alice", "--proxy", "bogus://x"], "bogus"),
    (["watch", "add", "x:alice", "--tag", "novalue"], "KEY=VALUE"),
    (["watch", "add", "x:alice", "--tag", "=v"], "KEY=VALUE"),
    (["demo", "--for", "-1"], "--for"),
    (["demo", "--for", "nan"], "--for"),
    (["demo", "--round", "0"], "--round"),
    (["demo", "--round", "inf"], "--round"),
    (["demo", "--hours", "nan"], "--hours"),
    (["demo", "--hours", "0"], "--hours"),
    (["demo", "--accounts", "2"], "--accounts"),
    (["demo", "--seed", "-1"], "--seed"),
    (["run", "--for", "-5"], "--for"),
    (["--db", "bogus://x", "events"], "--db"),
    (["--db", "not a url", "events"], "--db"),
]


@pytest.mark.parametrize(("args", "named"), BAD,
                         ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_bad_value_is_one_line_exit_2(tmp_path: Path, args: list[str], named: str) -> None:
    """Checked before any archive is opened: a usage error (2), not 'no archive' (1)."""
    home = tmp_path / "home"
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    line = one_error_line(cli_run(home, None, *args), 2)
    assert named in line, line
    assert not home.exists() and not (tmp_path / "out").exists()


def _db(store: Store) -> str | None:
    url = store.engine.url
    return None if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=False)


@pytest.mark.parametrize("args", [["verify", "--receipt", "OUT"],
                                  ["verify", "--key", "OUT"],
                                  ["checkpoint", "--timestamp-ca", "OUT"],
                                  ["import", "twitter-archive", "OUT"]])
def test_a_missing_file_is_one_line(tmp_path: Path, store: Store, args: list[str]) -> None:
    seed(store)
    args = [str(tmp_path / "missing") if a == "OUT" else a for a in args]
    r = cli_run(store.home, _db(store), *args)
    line = one_error_line(r, r.exit_code)
    assert r.exit_code in (1, 2) and "missing" in line


def test_a_postgres_url_without_psycopg_names_the_extra(tmp_path: Path) -> None:
    """psycopg made unimportable (a meta-path blocker), not uninstalled."""
    code = textwrap.dedent("""
        import sys

        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("psycopg", "psycopg2", "psycopg_binary"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Blocker())
        from unerased.cli import main
        main()
    """)
    from unerased.sim.archives import make_twitter_archive

    make_twitter_archive(tmp_path / "a.zip", n_tweets=3)
    for args in (["events"], ["import", "twitter-archive", str(tmp_path / "a.zip")]):
        r = subprocess.run(
            [sys.executable, "-c", code, "--home", str(tmp_path / "h"),
             "--db", "postgresql://u@127.0.0.1:1/db", *args],
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert "pip install 'unerased[postgres]'" in lines[0]


def test_click_usage_errors_keep_the_help(tmp_path: Path) -> None:
    r = cli_run(tmp_path, None, "posts", "--nope")
    line = one_error_line(r, 2)
    assert "unerased posts --help" in line
    r = cli_run(tmp_path, None, "--help")
    assert r.exit_code == 0 and "Usage:" in r.stdout
    r = CliRunner().invoke(cli, [])
    assert r.exit_code in (0, 2) and "Usage: unerased" in r.output  # nothing at all: the help
    one_error_line(cli_run(tmp_path, None), 2)  # options but no command: one line
