#!/usr/bin/env python3
"""Hostile-input benchmark (issue 9): the importers on inputs built to make them slow,
beside a bare baseline on the same file in the same run.

  .venv/bin/python bench/bench_hostile.py                  # 4 and 16 MB inputs
  .venv/bin/python bench/bench_hostile.py --mb 4 16 --old  # + the reference X importer

Cases (each at two sizes, to show how time and memory grow):
  ws-member   tweets.js = ``[`` + N bytes of spaces + ``]``
  big-tweet   tweets.js = one tweet whose text is N bytes
  ws-in-item  N bytes of whitespace inside one tweet object
  car-tiny    a Bluesky repository CAR of N/130 tiny records (a block every ~130 bytes)
  masto-str   a Mastodon outbox.json whose one status is N bytes long

Each run is a child process; it prints wall time and peak RSS (VmHWM, Linux) for:
  baseline  stdlib ``json.loads`` of the member (X: tweets.js, Mastodon: outbox.json) /
            ``libipld.decode_car`` of the file (CAR)
  unerased  the importer, every snapshot consumed
  old       with --old, X cases only: the earlier ijson-only importer kept as the tests'
            oracle (tests/_twitter_reference.py)
and, per case, how much time grew when the input grew (4x input: linear ~4x, quadratic ~16x).
Not a test: bounded, counting tests are in tests/test_import_linear.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ACCOUNT = b'window.YTD.account.part0 = [{"account": {"accountId": "42", "username": "t"}}]'

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4]); sys.path.insert(0, sys.argv[5])
mode, kind, path = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
if mode == "baseline":
    if kind == "car":
        import libipld
        with open(path, "rb") as f:
            n = len(libipld.decode_car(f.read())[1])
    else:
        import zipfile
        with zipfile.ZipFile(path) as z:
            if kind == "masto":
                n = len(json.loads(z.read("outbox.json"))["orderedItems"])
            else:
                text = z.read("data/tweets.js").decode("utf-8")
                n = len(json.loads(text[text.index("=") + 1:]))
elif mode == "old":
    import _twitter_reference as ref
    n = sum(1 for _ in ref.iter_twitter_archive(path))
elif kind == "masto":
    from unerased.importers import iter_mastodon_archive
    n = sum(1 for _ in iter_mastodon_archive(path))
elif kind == "car":
    from unerased.importers import iter_bluesky_car
    n = sum(1 for _ in iter_bluesky_car(path))
else:
    from unerased.importers import iter_twitter_archive
    n = sum(1 for _ in iter_twitter_archive(path))
with open("/proc/self/status") as f:  # VmHWM: this process's own peak (ru_maxrss
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))  # inherits)
print(json.dumps({"seconds": time.perf_counter() - t0, "n": n, "rss_mb": hwm / 1024}))
"""


def x_member(case: str, n: int) -> bytes:
    if case == "ws-member":
        return b"window.YTD.tweets.part0 = [" + b" " * n + b"]"
    if case == "big-tweet":
        t = {"tweet": {"id_str": "1", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
                       "full_text": "a" * n}}
        return b"window.YTD.tweets.part0 = [" + json.dumps(t).encode() + b"]"
    return (b'window.YTD.tweets.part0 = [{"tweet": {"id_str": "1",' + b" " * n
            + b'"full_text": "x"}}]')


def write_case(case: str, n: int, out: Path) -> Path:
    if case == "car-tiny":
        sys.path.insert(0, str(ROOT / "src"))
        from unerased.sim.archives_fedi import build_repo_car

        recs = {f"app.example.tiny/{i:013d}": {"n": i} for i in range(n // 130)}
        recs["app.bsky.feed.post/3kaaaaaaaaaa2"] = {
            "$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-01-01T00:00:00Z"}
        p = out / f"{case}-{n}.car"
        p.write_bytes(build_repo_car("did:plc:abcdefghijklmnopqrstuvwx", recs).car)
        return p
    p = out / f"{case}-{n}.zip"
    if case == "masto-str":
        item = {"type": "Create", "id": "https://ex.org/users/a/statuses/1/activity",
                "object": {"type": "Note", "id": "https://ex.org/users/a/statuses/1",
                           "content": "<p>" + "a" * n + "</p>",
                           "published": "2024-01-01T00:00:00Z"}}
        with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as z:
            z.writestr("actor.json", json.dumps({"id": "https://ex.org/users/a",
                                                 "preferredUsername": "a"}))
            z.writestr("outbox.json", json.dumps({"orderedItems": [item]}))
        return p
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as z:
        z.writestr("data/account.js", ACCOUNT)
        z.writestr("data/tweets.js", x_member(case, n))
    return p


def run(mode: str, kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run([PY, "-c", CHILD, mode, kind, str(path), str(ROOT / "src"),
                          str(ROOT / "tests")], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{mode} {path.name} failed:\n{out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, nargs=2, default=[4, 16], metavar=("SMALL", "BIG"))
    ap.add_argument("--old", action="store_true", help="also the reference X importer (slow)")
    ap.add_argument("--cases", nargs="*",
                    default=["ws-member", "big-tweet", "ws-in-item", "car-tiny", "masto-str"])
    args = ap.parse_args()
    print(f"{'case':<11} {'size':>6} {'mode':<9} {'seconds':>8} {'peak RSS MB':>12} "
          f"{'x baseline':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            kind = {"car": "car", "masto": "masto"}.get(case.split("-")[0], "x")
            modes = ["baseline", "unerased"] + (["old"] if args.old and kind == "x" else [])
            seconds: dict[str, list[float]] = {m: [] for m in modes}
            for mb in args.mb:
                path = write_case(case, mb << 20, Path(tmp))
                size = path.stat().st_size
                base = None
                for mode in modes:
                    r = run(mode, kind, path)
                    seconds[mode].append(r["seconds"])
                    base = base or r["seconds"]
                    print(f"{case:<11} {size / (1 << 20):>5.1f}M {mode:<9} {r['seconds']:>8.3f} "
                          f"{r['rss_mb']:>12.1f} {r['seconds'] / base:>10.2f}")
                path.unlink()
            grow = args.mb[1] / args.mb[0]
            for mode in modes:
                a, b = seconds[mode]
                print(f"{case:<11} {'':>6} {mode:<9} time grew {b / max(a, 1e-9):.1f}x for "
                      f"{grow:.0f}x the input")


if __name__ == "__main__":
    main()
