"""The command line as users and scripts meet it: the DESIGN.md interface, JSON Lines,
one-line errors with no traceback, nothing half-imported."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from unerased.cli import _register_more, cli
from unerased.sim.archives import make_twitter_archive

_register_more()


def run(home: Path, *args: str, db: str | None = None) -> Result:
    base = ["--home", str(home)] + (["--db", db] if db else [])
    return CliRunner().invoke(cli, [*base, *args], catch_exceptions=False)


def jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("arch") / "twitter.zip"
    make_twitter_archive(p, n_tweets=300, seed=3)
    return p


def test_import_search_posts_export(home: Path, db_url: str | None, archive: Path,
                                    tmp_path: Path) -> None:
    r = run(home, "import", "twitter-archive", str(archive), "--json", db=db_url)
    assert r.exit_code == 0, r.output
    (summary,) = jsonl(r.stdout)
    assert summary["new_posts"] > 250 and summary["deleted"] >= 1
    # importing the same archive again changes nothing
    r2 = run(home, "import", "twitter-archive", str(archive), "--json", db=db_url)
    (again,) = jsonl(r2.stdout)
    assert again["new_posts"] == 0 and again["new_versions"] == 0
    (acc,) = summary["accounts"]
    posts = jsonl(run(home, "posts", f"x:{acc}", "--json", db=db_url).stdout)
    assert len(posts) == summary["new_posts"]
    for p in posts:
        assert {"platform", "account", "post_id", "url", "created_at", "status", "text",
                "versions", "media"} <= set(p)
    deleted = jsonl(run(home, "posts", f"x:{acc}", "--status", "deleted", "--json",
                        db=db_url).stdout)
    assert deleted and all(p["status"] == "deleted" for p in deleted)
    hits = jsonl(run(home, "search", "删除", "--json", "--limit", "500", db=db_url).stdout)
    assert hits and all("snippet" in h for h in hits)
    assert all("删除" in "".join(v["text"] for v in h["versions"]) for h in hits)
    out = tmp_path / "posts.jsonl"
    assert run(home, "export", "jsonl", str(out), db=db_url).exit_code == 0
    exported = jsonl(out.read_text(encoding="utf-8"))
    assert len(exported) == len(posts)
    csv_out = tmp_path / "posts.csv"
    assert run(home, "export", "csv", str(csv_out), db=db_url).exit_code == 0
    assert csv_out.read_text(encoding="utf-8").count("\n") >= len(posts) + 1


def _bad_zip(tmp: Path, name: str, members: dict[str, bytes]) -> Path:
    p = tmp / name
    with zipfile.ZipFile(p, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return p


@pytest.mark.parametrize("case", ["not_zip", "truncated", "no_tweets", "bad_json", "traversal",
                                  "empty_zip"])
def test_bad_archives_one_line_error_nothing_written(home: Path, archive: Path, tmp_path: Path,
                                                     case: str) -> None:
    ok = run(home, "import", "twitter-archive", str(archive))
    assert ok.exit_code == 0
    before = jsonl(run(home, "posts", "x:" + _handle(home), "--json").stdout)
    if case == "not_zip":
        bad = tmp_path / "x.zip"
        bad.write_bytes(b"this is not a zip at all")
    elif case == "truncated":
        bad = tmp_path / "t.zip"
        bad.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    elif case == "no_tweets":
        bad = _bad_zip(tmp_path, "n.zip", {"data/account.js": b"window.YTD.account.part0 = []"})
    elif case == "empty_zip":  # a zip of no member at all (22 bytes)
        bad = _bad_zip(tmp_path, "z.zip", {})
    elif case == "bad_json":
        with zipfile.ZipFile(archive) as z:
            members = {n: z.read(n) for n in z.namelist()}
        key = next(n for n in members if n.endswith("tweets.js") or n.endswith("tweet.js"))
        members[key] = members[key][:-200] + b"{{{ not json"
        bad = _bad_zip(tmp_path, "j.zip", members)
    else:
        bad = _bad_zip(tmp_path, "e.zip", {"../../evil.js": b"x", "data/tweets.js": b"[]"})
    r = CliRunner().invoke(cli, ["--home", str(home), "import", "twitter-archive", str(bad)])
    assert r.exit_code != 0
    err_lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1, r.stderr
    assert err_lines[0].startswith("unerased: error: ") and bad.name in err_lines[0]
    assert "Traceback" not in r.output
    after = jsonl(run(home, "posts", "x:" + _handle(home), "--json").stdout)
    assert after == before
    assert not (tmp_path.parent / "evil.js").exists()


def _handle(home: Path) -> str:
    accs = jsonl(run(home, "watch", "list", "--all", "--json").stdout)
    return str(accs[0]["account"])


def test_watch_add_bad_uri_is_one_line(home: Path) -> None:
    r = CliRunner().invoke(cli, ["--home", str(home), "watch", "add", "nonsense"])
    assert r.exit_code == 2  # a usage error (DESIGN.md: exit 2)
    assert r.stderr.strip().count("\n") == 0 and "watch URI" in r.stderr


def test_watch_add_unreachable_keeps_watch_list(home: Path) -> None:
    r = CliRunner().invoke(cli, ["--home", str(home), "watch", "add",
                                 "mastodon:@nobody@localhost", "--service",
                                 "http://127.0.0.1:9"])
    assert r.exit_code == 1
    assert r.stderr.startswith("unerased: error: ") and r.stderr.strip().count("\n") == 0
    assert jsonl(run(home, "watch", "list", "--json").stdout) == []


def test_events_json_is_empty_jsonl(home: Path) -> None:
    from unerased.store import Store

    Store.open(home).close()  # an archive with nothing in it yet
    r = run(home, "events", "--json")
    assert r.exit_code == 0 and r.stdout == ""


def test_demo_runs_bounded_and_scores_against_the_truth(home: Path) -> None:
    """``demo --for`` is bounded in wall time; the campaign's sweep closes the accounts of
    two provinces; the summary's figures agree with the campaign's ground truth."""
    from datetime import timedelta

    from unerased.sim.campaign import generate_campaign

    t0 = time.monotonic()
    r = run(home, "demo", "--for", "10", "--hours", "4", "--accounts", "12", "--round", "0.05",
            "--json")
    took = time.monotonic() - t0
    assert r.exit_code == 0
    assert took < 10 + 20  # the deadline, then one last round and the scoring
    events = jsonl(r.stdout)
    summary = json.loads((home / "demo" / "summary.json").read_text())
    assert summary["events"] == len(events) and summary["accounts"] == 12
    assert 0 < summary["simulated_s"] <= 4 * 3600 and summary["wall_s"] <= took
    truth = generate_campaign(7, accounts=12, hours=4, sweep_at_hours=2,
                              sweep_spread_minutes=30)
    until = truth.start + timedelta(seconds=summary["simulated_s"])
    s = summary["score"]
    assert s["deleted"] == sum(1 for p in truth.posts if p.deleted_at and p.deleted_at <= until)
    assert s["closed"] == sum(1 for a in truth.closed if a.closed_at and a.closed_at <= until)
    assert s["false_alarms"] == 0
    assert s["archived_before_deletion"] <= s["deleted"] and s["detected"] <= s["deleted"]
    prov = {a.username: a.province for a in truth.accounts}
    closed = {e["account"].split("@")[0] for e in events if e["type"].startswith("account_")}
    assert {prov[u] for u in closed} <= {"Chongqing", "Fujian"}
    assert s["closed_detected"] == len(closed)
    assert s["detected"] - s["detected_via_closure"] == len(
        {e["post_id"] for e in events if e["type"] == "post_deleted"})
    assert summary["simulated_s"] == 4 * 3600  # the last round is at the campaign's end
    if summary["rounds"] >= 8:  # the machine was not hopelessly loaded: the sweep was seen
        assert {prov[u] for u in closed} == {"Chongqing", "Fujian"}
    assert "the demo archive is in" in r.stderr


@pytest.mark.parametrize("kind", ["mastodon-archive", "bluesky-car"])
def test_other_platform_archives_import_and_search(home: Path, tmp_path: Path,
                                                   kind: str) -> None:
    out = tmp_path / ("m.zip" if kind == "mastodon-archive" else "r.car")
    assert run(home, "sample-archive", str(out), "--kind", kind, "--posts", "60").exit_code == 0
    r = run(home, "import", kind, str(out), "--json")
    assert r.exit_code == 0, r.output
    (summary,) = jsonl(r.stdout)
    assert summary["new_posts"] >= 50
    again = jsonl(run(home, "import", kind, str(out), "--json").stdout)[0]
    assert again["new_posts"] == 0 and again["new_versions"] == 0
    (acc,) = jsonl(run(home, "watch", "list", "--all", "--json").stdout)
    posts = jsonl(run(home, "posts", f"row:{acc['id']}", "--json").stdout)
    assert posts == jsonl(run(home, "posts", acc["uri"], "--json").stdout)
    assert len(posts) == summary["new_posts"]
    platform = "mastodon" if kind == "mastodon-archive" else "bluesky"
    assert {p["platform"] for p in posts} == {platform}
    word = next(w for w in ("删除", "审查", "推特", "the") if any(w in p["text"] for p in posts))
    hits = jsonl(run(home, "search", word, "--json", "--limit", "500").stdout)
    assert {h["post_id"] for h in hits} == {p["post_id"] for p in posts
                                            if any(word in v["text"] for v in p["versions"])}
    assert run(home, "verify").exit_code == 0


@pytest.mark.parametrize("args", [
    ["export", "jsonl", "/nonexistent-dir/x.jsonl"],
    ["posts", "nobody"],
    ["search", "x", "--since", "not-a-date"],
    ["import", "twitter-archive", "/nonexistent.zip"],
])
def test_user_errors_are_one_line_no_traceback(home: Path, tmp_path: Path,
                                               args: list[str]) -> None:
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    r = CliRunner().invoke(cli, ["--home", str(home), *args])
    assert r.exit_code != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("unerased: error: "), r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_console_script_exit_codes_and_complete_output(home: Path, archive: Path) -> None:
    """The real entry point (it leaves without the interpreter's teardown): exit codes,
    every line of a long listing flushed, the store closed (no WAL left behind)."""
    import subprocess
    import sys

    exe = [sys.executable, "-c", "from unerased.cli import main; main()", "--home", str(home)]

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*exe, *args], capture_output=True, text=True, timeout=120)

    r = sh("import", "twitter-archive", str(archive), "--json")
    assert r.returncode == 0, r.stderr
    assert jsonl(r.stdout)[0]["new_posts"] > 250
    r = sh("posts", "x:sample_user", "--json")
    assert r.returncode == 0 and len(jsonl(r.stdout)) > 250  # every line, none cut short
    assert not (home / "unerased.sqlite-wal").exists()
    assert sh("no-such-command").returncode == 2
    r = sh("import", "twitter-archive", str(home / "missing.zip"))
    assert r.returncode == 1 and r.stderr.startswith("unerased: error:")
