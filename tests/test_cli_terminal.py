"""Terminal output escapes control and bidi characters: a post, a handle, a post id, an
error message, a file name that hold U+202E, ESC[2J, BEL or C1 controls reach no
terminal raw, from any command; ``--json`` keeps the exact text (the characters become
JSON ``\\u`` escapes, the value is the same). SQLite and PostgreSQL; and once through the
real entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_world import T0, T1, cli_run, jsonl
from unerased.model import AccountSnapshot, Event, EventType, PostSnapshot
from unerased.sim.archives import make_twitter_archive
from unerased.store import Store

EVIL = "\u202e\x1b[2J\x07\x9b31m\x85\x1b]0;pwned\x07"
RAW = ("\u202e", "\x1b", "\x07", "\x9b", "\x85")
HANDLE = f"ev{EVIL}il"
TEXT = f"line one {EVIL} censorship\nline two{EVIL}"
POST_ID = f"66{EVIL}"


def _clean(*outs: str) -> None:
    for out in outs:
        bad = [ch for ch in RAW if ch in out]
        assert not bad, (bad, out)


@pytest.fixture
def hostile(store: Store) -> Store:
    acc = AccountSnapshot("x", f"9{EVIL}", handle=HANDLE, display_name=f"Evil{EVIL}")
    twin = AccountSnapshot("x", "31337", handle=f"tw{EVIL}in")
    with store.writer() as w:
        row = w.upsert_account(acc, "import:test")
        w.add_posts(row, [PostSnapshot("x", acc.account_id, POST_ID, TEXT, created_at=T0,
                                       url=f"https://x.com/e/status/{EVIL}")], "import:test")
        w.update_account(row["id"], watched=True, watch_uri=f"x:{HANDLE}",
                         check_error=f"boom{EVIL}")
        pk = w.post_pks(row["id"], [POST_ID])[POST_ID]
        w.add_event(Event(EventType.POST_DELETED, T1, "x", HANDLE, acc.account_id, POST_ID),
                    row["id"], pk)
        t = w.upsert_account(twin, "import:test")
        w.add_posts(t, [PostSnapshot("x", "31337", POST_ID, "twin", created_at=T0)],
                    "import:test")
    return store


def _db(store: Store) -> str | None:
    url = store.engine.url
    return None if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=False)


def test_listings_escape_human_output_and_keep_json_exact(hostile: Store) -> None:
    home, db = hostile.home, _db(hostile)
    for args in (["posts", "row:1"], ["search", "censorship"], ["events"],
                 ["watch", "list", "--all"]):
        r = cli_run(home, db, *args)
        assert r.exit_code == 0, r.output
        _clean(r.stdout, r.stderr)
        assert "\\u202e" in r.stdout, (args, r.stdout)  # shown, not hidden
    r = cli_run(home, db, "posts", "row:1", "--json")
    _clean(r.stdout)
    (p,) = jsonl(r.stdout)
    assert p["text"] == TEXT and p["post_id"] == POST_ID and p["account"] == HANDLE
    r = cli_run(home, db, "search", "censorship", "--json")
    _clean(r.stdout, r.stderr)
    assert jsonl(r.stdout)[0]["text"] == TEXT
    r = cli_run(home, db, "events", "--json")
    _clean(r.stdout)
    (e,) = jsonl(r.stdout)
    assert (e["account"], e["post_id"]) == (HANDLE, POST_ID)
    r = cli_run(home, db, "watch", "list", "--all", "--json")
    _clean(r.stdout)
    accs = jsonl(r.stdout)
    assert {a["check_error"] for a in accs} == {f"boom{EVIL}", None}
    assert f"x:{HANDLE}" in {a["uri"] for a in accs}


def test_errors_naming_hostile_text_are_escaped(hostile: Store, tmp_path: Path) -> None:
    home, db = hostile.home, _db(hostile)
    # an ambiguous post id: the message names both accounts (hostile handles)
    r = cli_run(home, db, "receipt", POST_ID, str(tmp_path / "r.zip"))
    assert r.exit_code == 2
    _clean(r.stdout, r.stderr)
    assert "\\u202e" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    # nothing found: the message repeats what was typed
    r = cli_run(home, db, "posts", f"x:no{EVIL}body")
    assert r.exit_code == 1
    _clean(r.stderr)


def test_receipts_and_verify_escape(hostile: Store, tmp_path: Path) -> None:
    home, db = hostile.home, _db(hostile)
    out = tmp_path / "r.zip"
    r = cli_run(home, db, "receipt", f"https://x.com/e/status/{EVIL}", str(out))
    assert r.exit_code == 0, r.output
    _clean(r.stdout, r.stderr)
    r = cli_run(home, db, "receipt", "row:1", str(out), "--json")
    _clean(r.stdout)
    assert jsonl(r.stdout)[0]["post_id"] == POST_ID
    for args in (["verify", "--receipt", str(out)], ["verify", "--receipt", str(out), "--json"],
                 ["verify"], ["verify", "--json"]):
        r = cli_run(home, db, *args)
        assert r.exit_code == 0, r.output
        _clean(r.stdout, r.stderr)
    rep = jsonl(cli_run(home, db, "verify", "--receipt", str(out), "--json").stdout)[0]
    assert rep["post"]["post_id"] == POST_ID
    assert any(TEXT.replace("\n", " ")[:20] in line for line in rep["story"])


def test_a_failing_verify_escapes_its_message(hostile: Store, tmp_path: Path) -> None:
    home, db = hostile.home, _db(hostile)
    out = tmp_path / "r.zip"
    assert cli_run(home, db, "receipt", "row:1", str(out)).exit_code == 0
    bad = tmp_path / f"b{EVIL}.zip"
    bad.write_bytes(out.read_bytes()[:-40])
    r = cli_run(home, db, "verify", "--receipt", str(bad))
    assert r.exit_code == 1
    _clean(r.stdout, r.stderr)


def test_the_import_summary_escapes_the_file_name(tmp_path: Path, db_url: str | None) -> None:
    arch = tmp_path / f"a{EVIL}.zip"
    make_twitter_archive(arch, n_tweets=5, seed=1)
    home = tmp_path / "home"
    r = cli_run(home, db_url, "import", "twitter-archive", str(arch))
    assert r.exit_code == 0, r.output
    _clean(r.stdout, r.stderr)
    assert "\\u202e" in r.stdout + r.stderr
    r = cli_run(home, db_url, "import", "twitter-archive", str(arch), "--json")
    _clean(r.stdout)
    (s,) = jsonl(r.stdout)
    assert s["archive"] == str(arch) and s["account_uris"] == ["x:sample_user"]


def test_the_real_entry_point_writes_no_raw_control(hostile: Store) -> None:
    home, db = hostile.home, _db(hostile)
    base = [sys.executable, "-c", "from unerased.cli import main; main()", "--home", str(home)]
    base += ["--db", db] if db else []
    for args in (["posts", "row:1"], ["events", "--json"], ["receipt", POST_ID, str(home / "x.zip")]):
        r = subprocess.run([*base, *args], capture_output=True, timeout=120)
        _clean(r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace"))
        assert r.returncode in (0, 2)
