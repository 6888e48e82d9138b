"""A receipt re-packed is the same receipt: unzipped and zipped again (``zip -r``, an
archive manager, Python's zipfile) with directory entries, another compression, another
member order, a comment, other dates and extra fields — or inside one folder — it still
verifies. Any changed, missing or extra file is still rejected, in one line, exit 1."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from test_verify import build, invoke
from unerased.ledger.receipt import verify_receipt
from unerased.store import Store

# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def receipt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A real receipt, made by `unerased receipt` on a built archive (SQLite: packing
    is independent of the database)."""
    tmp = tmp_path_factory.mktemp("repack")
    home = tmp / "home"
    st = Store.open(home)
    try:
        build(st)
    finally:
        st.close()
    out = tmp / "receipt.zip"
    with pytest.MonkeyPatch.context() as mp:
        r = invoke(mp, ["--home", str(home), "receipt", "1", str(out)])
    assert r.exit_code == 0, r.output
    assert verify_receipt(out).ok
    yield out


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}


def unzip(path: Path, into: Path) -> Path:
    into.mkdir(parents=True)
    for name, data in members(path).items():
        dest = into / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    return into


_DIR_ATTR = ((stat.S_IFDIR | 0o755) << 16) | 0x10  # as Info-ZIP writes a directory
_FILE_ATTR = (stat.S_IFREG | 0o644) << 16


def _zip_extra(mtime: int) -> bytes:
    """The extra fields Info-ZIP's zip 3.0 puts on Unix: UT (extended timestamp) and
    ux (Unix uid/gid, version 1, 4-byte ids)."""
    ut = struct.pack("<HHBI", 0x5455, 5, 3, mtime)
    ux = struct.pack("<HHBBIBI", 0x7875, 11, 1, 4, 1000, 4, 1000)
    return ut + ux


def zip_r(tree: Path, out: Path, *, wrap: str | None = None) -> Path:
    """What `cd tree && zip -r out .` writes (or `zip -r out wrap/` with ``wrap``): a
    directory entry ``name/`` (mode 40755, the MS-DOS directory bit, no data) before
    each folder's members, members in directory order, Unix attributes, UT/ux extra
    fields, small files stored and larger ones deflated, no data descriptor."""
    mtime = 1_700_000_000
    with zipfile.ZipFile(out, "w") as zf:
        def add_dir(arc: str) -> None:
            zi = zipfile.ZipInfo(arc, date_time=(2023, 11, 14, 22, 13, 20))
            zi.create_system, zi.external_attr, zi.extra = 3, _DIR_ATTR, _zip_extra(mtime)
            zf.writestr(zi, b"")

        def walk(d: Path, prefix: str) -> None:
            with os.scandir(d) as it:
                for entry in it:
                    arc = prefix + entry.name
                    if entry.is_dir():
                        add_dir(arc + "/")
                        walk(Path(entry.path), arc + "/")
                        continue
                    data = Path(entry.path).read_bytes()
                    zi = zipfile.ZipInfo(arc, date_time=(2023, 11, 14, 22, 13, 20))
                    zi.create_system, zi.external_attr = 3, _FILE_ATTR
                    zi.extra = _zip_extra(mtime)
                    zi.internal_attr = 1 if data.isascii() else 0
                    zi.compress_type = (zipfile.ZIP_DEFLATED if len(data) > 64
                                        else zipfile.ZIP_STORED)
                    zf.writestr(zi, data)

        if wrap is None:
            walk(tree, "")
        else:
            add_dir(wrap + "/")
            walk(tree, wrap + "/")
    return out


def repack(src: Path, out: Path, *, order: Callable[[list[str]], list[str]] = lambda n: n,
           compression: int = zipfile.ZIP_DEFLATED, dirs: bool = False,
           comment: bytes = b"", prefix: str = "",
           extra: dict[str, bytes] | None = None,
           change: Callable[[dict[str, bytes]], dict[str, bytes]] = lambda m: m) -> Path:
    m = change(members(src))
    m.update(extra or {})
    with zipfile.ZipFile(out, "w", compression) as zf:
        zf.comment = comment
        done: set[str] = set()
        if prefix and dirs:
            zf.writestr(zipfile.ZipInfo(prefix), b"")
        for name in order(list(m)):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = prefix + "/".join(parts[:i]) + "/"
                if dirs and d not in done:
                    done.add(d)
                    zf.writestr(d, b"")  # zipfile marks it a directory (40775, 0x10)
            zi = zipfile.ZipInfo(prefix + name, date_time=(2031, 7, 8, 9, 10, 12))
            zi.compress_type = compression
            zf.writestr(zi, m[name])
    return out


def ok(path: Path) -> None:
    rep = verify_receipt(path)
    assert rep.ok, rep.problems
    assert rep.leaves == 8 and rep.blobs == 4


def rejected(path: Path, monkeypatch: pytest.MonkeyPatch, expect: str) -> None:
    """Rejected by the function and by the CLI: one line on stderr, exit 1."""
    rep = verify_receipt(path)
    assert not rep.ok and expect in rep.problems[0], rep.problems
    r = invoke(monkeypatch, ["--home", str(path.parent / "no-home"), "verify", "--receipt",
                             str(path)])
    assert r.exit_code == 1 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith("unerased: verify failed:") and expect in line


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("how", [
    "stored", "deflated", "bzip2", "lzma", "reversed", "directories", "directories stored",
    "comment", "everything",
])
def test_repacked_with_zipfile_still_verifies(receipt: Path, tmp_path: Path, how: str) -> None:
    kw: dict[str, Any] = {
        "stored": {"compression": zipfile.ZIP_STORED},
        "deflated": {},
        "bzip2": {"compression": zipfile.ZIP_BZIP2},
        "lzma": {"compression": zipfile.ZIP_LZMA},
        "reversed": {"order": lambda n: n[::-1]},
        "directories": {"dirs": True},
        "directories stored": {"dirs": True, "compression": zipfile.ZIP_STORED},
        "comment": {"comment": b"re-packed by hand \xff"},
        "everything": {"dirs": True, "order": sorted, "comment": b"x" * 1000,
                       "compression": zipfile.ZIP_STORED},
    }[how]
    ok(repack(receipt, tmp_path / "r.zip", **kw))


def test_zip_r_emulation_verifies(receipt: Path, tmp_path: Path) -> None:
    tree = unzip(receipt, tmp_path / "receipt")
    out = zip_r(tree, tmp_path / "again.zip")
    with zipfile.ZipFile(out) as zf:
        assert {"leaves/", "blobs/"} <= set(zf.namelist())
    ok(out)


@pytest.mark.parametrize("dirs", [True, False])
def test_inside_one_folder_verifies(receipt: Path, tmp_path: Path, dirs: bool) -> None:
    """`zip -r receipt.zip receipt/` after `unzip -d receipt`: every member in one folder."""
    ok(repack(receipt, tmp_path / "r.zip", prefix="receipt/", dirs=dirs))
    tree = unzip(receipt, tmp_path / "receipt")
    ok(zip_r(tree, tmp_path / "again.zip", wrap="receipt"))


def _real_zip() -> str:
    exe = shutil.which("zip")
    if exe is None:
        pytest.skip("the `zip` command is not installed (Debian: apt-get install zip); "
                    "the Python emulation of `zip -r` above still ran")
    return exe


@pytest.mark.parametrize("variant", ["dot", "folder", "stdout", "store-only", "max"])
def test_the_real_zip_command(receipt: Path, tmp_path: Path, variant: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    exe = _real_zip()
    tree = unzip(receipt, tmp_path / "receipt")
    out = tmp_path / "again.zip"
    if variant == "dot":
        subprocess.run([exe, "-r", "-q", str(out), "."], cwd=tree, check=True)
    elif variant == "folder":
        subprocess.run([exe, "-r", "-q", str(out), "receipt"], cwd=tmp_path, check=True)
    elif variant == "stdout":  # streamed to a pipe: data descriptors after each member
        piped = subprocess.run([exe, "-r", "-q", "-", "."], cwd=tree, check=True,
                               stdout=subprocess.PIPE)
        out.write_bytes(piped.stdout)
    elif variant == "store-only":
        subprocess.run([exe, "-r", "-q", "-0", str(out), "."], cwd=tree, check=True)
    else:
        subprocess.run([exe, "-r", "-q", "-9", "-z", str(out), "."], cwd=tree, check=True,
                       input=b"a comment\n.\n")
    with zipfile.ZipFile(out) as zf:
        infos = zf.infolist()
        assert any(i.is_dir() for i in infos)
        if variant == "stdout":
            assert all(i.flag_bits & 0x08 for i in infos if not i.is_dir())
        if variant == "store-only":
            assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
        if variant == "max":
            assert zf.comment == b"a comment"
        if variant == "folder":
            assert infos[0].filename == "receipt/"
    ok(out)
    r = invoke(monkeypatch, ["--home", str(tmp_path / "none"), "verify", "--receipt", str(out)])
    assert r.exit_code == 0 and r.stdout.startswith("receipt verified"), r.output


def test_the_real_zip_command_still_catches_tampering(receipt: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    exe = _real_zip()
    tree = unzip(receipt, tmp_path / "receipt")
    leaf = sorted((tree / "leaves").iterdir())[0]
    data = bytearray(leaf.read_bytes())
    data[len(data) // 2] ^= 1
    leaf.write_bytes(bytes(data))
    (tree / "blobs" / "notes.txt").write_text("added later")
    out = tmp_path / "again.zip"
    subprocess.run([exe, "-r", "-q", str(out), "."], cwd=tree, check=True)
    assert not verify_receipt(out).ok
    (tree / "blobs" / "notes.txt").unlink()
    subprocess.run([exe, "-r", "-q", str(tmp_path / "one.zip"), "."], cwd=tree, check=True)
    rejected(tmp_path / "one.zip", monkeypatch, f"leaves/{leaf.name}")


# --------------------------------------------------------------------------- still rejected


def _first(prefix: str) -> Callable[[dict[str, bytes]], str]:
    return lambda m: next(n for n in sorted(m) if n.startswith(prefix))


def _flip_leaf(m: dict[str, bytes]) -> dict[str, bytes]:
    name = _first("leaves/")(m)
    b = bytearray(m[name])
    b[len(b) // 2] ^= 1
    return {**m, name: bytes(b)}


@pytest.mark.parametrize("dirs", [True, False])
@pytest.mark.parametrize("prefix", ["", "receipt/"])
@pytest.mark.parametrize("case,kw,expect", [
    ("changed byte in a leaf", {"change": _flip_leaf}, "is not leaf"),
    ("removed leaf", {"change": lambda m: {k: v for k, v in m.items()
                                           if k != _first("leaves/")(m)}}, "is missing"),
    ("removed blob", {"change": lambda m: {k: v for k, v in m.items()
                                           if k != _first("blobs/")(m)}}, "is missing"),
    ("removed README", {"change": lambda m: {k: v for k, v in m.items()
                                             if k != "README.txt"}}, "README.txt is missing"),
    ("extra file", {"extra": {"notes.txt": b"hello"}}, "unexpected member"),
    ("extra leaf", {"extra": {"leaves/999.json": b"{}"}}, "unexpected member"),
    ("extra file in a folder", {"extra": {"leaves/sub/evil.json": b"{}"}}, "unexpected member"),
    ("extra file in a new folder", {"extra": {"more/evil.bin": b"x"}}, "unexpected member"),
    ("empty extra file", {"extra": {"blobs/empty": b""}}, "unexpected member"),
])
def test_tampering_is_still_rejected(receipt: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, case: str,
                                     kw: dict[str, Any], expect: str, dirs: bool,
                                     prefix: str) -> None:
    bad = repack(receipt, tmp_path / "bad.zip", dirs=dirs, prefix=prefix, **kw)
    rejected(bad, monkeypatch, expect)


def _with(receipt: Path, out: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]],
          *, prefix: str = "") -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members(receipt).items():
            zf.writestr(prefix + name, data)
        for info, data in entries:
            zf.writestr(info, data)
    return out


def _dir(name: str) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name)
    zi.external_attr = _DIR_ATTR
    return zi


@pytest.mark.parametrize("entries,expect", [
    ([(_dir("leaves/"), b"hidden data")], "unexpected member 'leaves/'"),
    ([(_dir("extra/"), b"")], "unexpected member 'extra/'"),
    ([(_dir("leaves/sub/"), b"")], "unexpected member 'leaves/sub/'"),
    ([(_dir("blobs/"), b""), (_dir("blobs/"), b"")], "appears twice"),
    ([(_dir("../"), b"")], "escapes the archive"),
    ([(_dir("/leaves/"), b"")], "absolute path"),
])
def test_directory_entries_are_no_hiding_place(receipt: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               entries: list[tuple[zipfile.ZipInfo, bytes]],
                                               expect: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        bad = _with(receipt, tmp_path / "bad.zip", entries)
    rejected(bad, monkeypatch, expect)


def test_a_symlink_is_refused_even_as_a_folder(receipt: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    link = zipfile.ZipInfo("leaves/")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    rejected(_with(receipt, tmp_path / "bad.zip", [(link, b"/etc")]), monkeypatch,
             "symbolic link")


@pytest.mark.parametrize("layout,expect", [
    ("file beside the folder", "unexpected member 'notes.txt'"),
    ("two folders", "manifest.json is in several folders"),
    ("nested twice", "manifest.json is missing"),
])
def test_one_folder_only(receipt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         layout: str, expect: str) -> None:
    if layout == "file beside the folder":
        bad = _with(receipt, tmp_path / "bad.zip", [("notes.txt", b"x")], prefix="receipt/")
    elif layout == "two folders":
        bad = _with(receipt, tmp_path / "bad.zip",
                    [(f"copy/{n}", d) for n, d in members(receipt).items()], prefix="receipt/")
    else:
        bad = repack(receipt, tmp_path / "bad.zip", prefix="a/b/", dirs=True)
    rejected(bad, monkeypatch, expect)
