"""Mastodon's ``.tar.gz`` archives, read by SafeTar with the same caps and refusals as
SafeZip: the real o3o export repacked as a tar.gz imports exactly as its zip does, and
hostile tars are refused with one line, nothing written."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shared_data import ARCHIVES
from unerased.cli import _register_more, cli
from unerased.importers import ArchiveError, SafeTar, iter_mastodon_archive, open_archive
from unerased.model import PostSnapshot

_register_more()

O3O = ARCHIVES / "mastodon-2021-o3o" / "archive.zip"


def repack_as_targz(zip_path: Path, out: Path, *, prefix: str = "") -> Path:
    """The zip's members, same bytes, in a tar.gz (as Mastodon's BackupService wrote)."""
    with zipfile.ZipFile(zip_path) as zf, tarfile.open(out, "w:gz") as tf:
        for zi in zf.infolist():
            if zi.is_dir():
                continue
            data = zf.read(zi)
            ti = tarfile.TarInfo(prefix + zi.filename)
            ti.size = len(data)
            ti.mtime = 1_600_000_000
            tf.addfile(ti, io.BytesIO(data))
    return out


def snapshot_view(items: list[Any]) -> list[Any]:
    out = []
    for s in items:
        if isinstance(s, PostSnapshot):
            out.append((s.post_id, s.text, s.created_at, s.kind, s.reply_to, s.repost_of,
                        s.quote_of, s.version_key, s.url, s.html,
                        [(m.url, m.filename, m.mime, m.content, m.alt, m.kind) for m in s.media],
                        json.dumps(s.raw, sort_keys=True)))
        else:
            out.append((s.platform, s.account_id, s.handle, s.display_name, dict(s.profile)))
    return out


def test_o3o_as_targz_gives_identical_posts(tmp_path: Path) -> None:
    tgz = repack_as_targz(O3O, tmp_path / "archive.tar.gz")
    from_zip = list(iter_mastodon_archive(O3O))
    from_tar = list(iter_mastodon_archive(tgz))
    assert len(from_zip) == 1 + 1476
    assert snapshot_view(from_tar) == snapshot_view(from_zip)
    # the three media files kept in the export came through with their bytes
    assert sum(1 for s in from_tar if isinstance(s, PostSnapshot)
               for m in s.media if m.content) == 3


def test_targz_with_dot_slash_names_and_a_plain_tar(tmp_path: Path) -> None:
    tgz = repack_as_targz(O3O, tmp_path / "dots.tgz", prefix="./")
    plain = tmp_path / "plain.tar"
    with gzip.open(repack_as_targz(O3O, tmp_path / "x.tar.gz")) as src:
        plain.write_bytes(src.read())
    want = snapshot_view(list(iter_mastodon_archive(O3O)))
    assert snapshot_view(list(iter_mastodon_archive(tgz))) == want
    assert snapshot_view(list(iter_mastodon_archive(plain))) == want


def test_cli_imports_targz_like_the_zip(tmp_path: Path) -> None:
    tgz = repack_as_targz(O3O, tmp_path / "archive.tar.gz")
    outs = []
    for name, src in (("zip", O3O), ("tar", tgz)):
        home = tmp_path / name
        r = CliRunner().invoke(cli, ["--home", str(home), "import", "mastodon-archive", str(src),
                                     "--json"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        summary = json.loads(r.stdout)
        assert summary["new_posts"] == 1476
        r = CliRunner().invoke(cli, ["--home", str(home), "posts", "mastodon:@purplerain@o3o.ca",
                                     "--json"], catch_exceptions=False)
        posts = [json.loads(line) for line in r.stdout.splitlines()]
        outs.append([(p["post_id"], p["text"], p["created_at"], p["media"]) for p in posts])
    assert outs[0] == outs[1] and len(outs[0]) == 1476


# --- hostile tars ------------------------------------------------------------------------------


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz"
         ) -> Path:
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                ti = tarfile.TarInfo(m[0])
                ti.size = len(m[1])
                tf.addfile(ti, io.BytesIO(m[1]))
    return path


def _special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = link
    return ti


OUTBOX = ("outbox.json", b'{"orderedItems": []}')


@pytest.mark.parametrize("members, needle", [
    ([("../evil.json", b"x"), OUTBOX], "escapes the archive"),
    ([("/etc/evil.json", b"x"), OUTBOX], "absolute path"),
    ([("a\\..\\b.json", b"x"), OUTBOX], "backslash"),
    ([_special("link.json", tarfile.SYMTYPE, "/etc/passwd"), OUTBOX], "symbolic link"),
    ([_special("link2.json", tarfile.SYMTYPE, "../../x"), OUTBOX], "symbolic link"),
    ([OUTBOX, _special("hard.json", tarfile.LNKTYPE, "outbox.json")], "hard link"),
    ([_special("dev", tarfile.CHRTYPE), OUTBOX], "special file"),
    ([_special("fifo", tarfile.FIFOTYPE), OUTBOX], "special file"),
    ([OUTBOX, OUTBOX], "appears twice"),
    ([OUTBOX, ("./outbox.json", b"{}")], "appears twice"),
])
def test_hostile_members_refused(tmp_path: Path, members: list[Any], needle: str) -> None:
    p = _tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(ArchiveError) as e:
        SafeTar(p)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert str(e.value).startswith(str(p))


def test_gzip_bomb_refused_while_expanding(tmp_path: Path) -> None:
    p = tmp_path / "bomb.tar.gz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        ti = tarfile.TarInfo("outbox.json")
        ti.size = 64 << 20
        tf.addfile(ti, io.BytesIO(b"\x00" * ti.size))
    p.write_bytes(gzip.compress(raw.getvalue(), 9))
    assert p.stat().st_size < 200_000
    with pytest.raises(ArchiveError, match="gzip bomb"):
        SafeTar(p)
    with pytest.raises(ArchiveError, match="expands past the limit"):
        SafeTar(p, max_total=1 << 20, max_ratio=1e9)


def test_member_count_and_declared_total_caps(tmp_path: Path) -> None:
    p = _tar(tmp_path / "many.tar.gz", [(f"m{i}.json", b"{}") for i in range(50)])
    with pytest.raises(ArchiveError, match="more than 20 members"):
        SafeTar(p, max_members=20)
    big = _tar(tmp_path / "big.tar", [("a.bin", b"x" * 3000), ("b.bin", b"y" * 3000)], "w")
    with pytest.raises(ArchiveError, match="over the limit"):
        SafeTar(big, max_total=5000)


def test_oversized_extended_header_refused(tmp_path: Path) -> None:
    ti = tarfile.TarInfo("outbox.json")
    ti.pax_headers = {"comment": os.urandom(1 << 20).hex()}  # incompressible: not a bomb
    p = tmp_path / "pax.tar.gz"
    with tarfile.open(p, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(ti, io.BytesIO(b""))
    with pytest.raises(ArchiveError, match="extended header"):
        SafeTar(p)


@pytest.mark.parametrize("content", [b"\x1f\x8b\x08\x00garbage", b"\x1f\x8b", b"not a tar"])
def test_not_a_tar_and_corrupt_gzip(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "x.tar.gz"
    p.write_bytes(content)
    with pytest.raises(ArchiveError) as e:
        open_archive(p)
    assert "\n" not in str(e.value)


def test_truncated_targz(tmp_path: Path) -> None:
    tgz = repack_as_targz(O3O, tmp_path / "a.tar.gz")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(tgz.read_bytes()[: tgz.stat().st_size // 2])
    with pytest.raises(ArchiveError, match="truncated"):
        list(iter_mastodon_archive(cut))


def test_member_reads_respect_limits(tmp_path: Path) -> None:
    p = _tar(tmp_path / "a.tar.gz", [("d/a.bin", b"a" * 5000), OUTBOX])
    with SafeTar(p) as t:
        assert t.names() == ["d/a.bin", "outbox.json"] and "d/a.bin" in t
        assert t.size("d/a.bin") == 5000 and t.read("d/a.bin", 5000) == b"a" * 5000
        with pytest.raises(ArchiveError, match="over the limit of 100"):
            t.read("d/a.bin", 100)
        with pytest.raises(ArchiveError, match="no such member"):
            t.read("nope", 10)
        assert t.total_read == 5000


@pytest.mark.parametrize("case", ["traversal", "symlink", "hardlink", "bomb"])
def test_cli_hostile_tar_one_line_nothing_written(tmp_path: Path, case: str) -> None:
    home = tmp_path / "home"
    if case == "traversal":
        bad = _tar(tmp_path / "t.tar.gz", [OUTBOX, ("../../evil.json", b"{}")])
    elif case == "symlink":
        bad = _tar(tmp_path / "s.tar.gz", [_special("actor.json", tarfile.SYMTYPE, "/etc/passwd"),
                                            OUTBOX])
    elif case == "hardlink":
        bad = _tar(tmp_path / "h.tar.gz", [OUTBOX, _special("actor.json", tarfile.LNKTYPE,
                                                            "/etc/shadow")])
    else:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tf:
            ti = tarfile.TarInfo("outbox.json")
            ti.size = 32 << 20
            tf.addfile(ti, io.BytesIO(b" " * ti.size))
        bad = tmp_path / "b.tar.gz"
        bad.write_bytes(gzip.compress(raw.getvalue(), 9))
    r = CliRunner().invoke(cli, ["--home", str(home), "import", "mastodon-archive", str(bad)])
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("unerased: error: ") and bad.name in lines[0]
    assert "Traceback" not in r.output
    assert not (tmp_path / "evil.json").exists() and not (tmp_path.parent / "evil.json").exists()
    from unerased.store import Store

    st = Store.open(home)
    try:
        assert st.ledger_size() == 0
        assert list(st.iter_posts()) == []
    finally:
        st.close()
