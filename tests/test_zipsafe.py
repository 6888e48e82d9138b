"""SafeZip: every unsafe or broken zip becomes one ArchiveError line, nothing else."""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unerased.errors import ArchiveError
from unerased.importers.safezip import SafeZip, name_problem


def make_zip(path: Path, members: dict[str, bytes] | list[tuple[zipfile.ZipInfo | str, bytes]],
             compression: int = zipfile.ZIP_DEFLATED) -> Path:
    items = list(members.items()) if isinstance(members, dict) else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names warn
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in items:
                zf.writestr(name, data)
    return path


def one_line(err: pytest.ExceptionInfo[ArchiveError], path: Path) -> str:
    text = str(err.value)
    assert "\n" not in text and "\r" not in text
    assert text.startswith(f"{path}: ")
    assert err.value.path == str(path)
    return text


def test_reads_names_and_members(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "ok.zip", {"data/a.js": b"hello", "data/b/c.txt": b"x" * 1000})
    with SafeZip(p) as zf:
        assert zf.names() == ["data/a.js", "data/b/c.txt"]
        assert "data/a.js" in zf and "nope" not in zf
        assert zf.size("data/b/c.txt") == 1000
        assert zf.read("data/a.js", 10) == b"hello"
        with zf.open("data/b/c.txt") as fh:
            assert fh.read(10) == b"x" * 10
            assert fh.read() == b"x" * 990
        assert zf.total_read == 5 + 1000


def test_a_zip_of_no_member_is_read_as_empty(tmp_path: Path) -> None:
    """Found by test_mutated_zip_only_archive_error: a central directory of no entry
    escaped as a ValueError (the overlap check paired members with their successors)."""
    p = make_zip(tmp_path / "empty.zip", {})
    assert p.stat().st_size == 22  # only the end-of-central-directory record
    with SafeZip(p) as zf:
        assert zf.names() == [] and list(zf) == []


def test_missing_member_and_limit(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "ok.zip", {"a": b"12345"})
    with SafeZip(p) as zf:
        with pytest.raises(ArchiveError) as e:
            zf.read("b", 100)
        assert one_line(e, p) == f"{p}: b: no such member"
        with pytest.raises(ArchiveError) as e:
            zf.read("a", 4)
        assert "over the limit of 4" in one_line(e, p)


@pytest.mark.parametrize("content", [b"", b"hello, not a zip", b"PK\x03\x04" + b"\x00" * 40])
def test_not_a_zip(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "backup.zip"
    p.write_bytes(content)
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert "not a zip file" in one_line(e, p)


def test_no_such_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError) as e:
        SafeZip(tmp_path / "missing.zip")
    assert one_line(e, tmp_path / "missing.zip").endswith("no such file")
    with pytest.raises(ArchiveError) as e:
        SafeZip(tmp_path)
    assert "is a directory" in one_line(e, tmp_path)


def test_truncated_zip(tmp_path: Path) -> None:
    good = make_zip(tmp_path / "good.zip", {"data/tweets.js": b"[1, 2, 3]" * 5000})
    data = good.read_bytes()
    p = tmp_path / "cut.zip"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert "not a zip file" in one_line(e, p)


def test_corrupted_member_data_bad_crc(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 200
    good = make_zip(tmp_path / "good.zip", {"data/blob.bin": payload}, zipfile.ZIP_STORED)
    data = bytearray(good.read_bytes())
    data[100] ^= 0xFF  # inside the stored data
    p = tmp_path / "bad.zip"
    p.write_bytes(bytes(data))
    with SafeZip(p) as zf, pytest.raises(ArchiveError) as e:
        zf.read("data/blob.bin", 1 << 20)
    assert one_line(e, p) == f"{p}: data/blob.bin: bad CRC-32: the archive is corrupted or truncated"


def test_corrupted_deflate_stream(tmp_path: Path) -> None:
    body = ",".join(str(i * 7919 % 100003) for i in range(50000)).encode()
    good = make_zip(tmp_path / "good.zip", {"t.js": b"window.YTD = [" + body + b"]"})
    data = bytearray(good.read_bytes())
    assert len(data) > 50_000
    for i in range(200, 400):
        data[i] = 0xFF
    p = tmp_path / "bad.zip"
    p.write_bytes(bytes(data))
    with SafeZip(p) as zf, pytest.raises(ArchiveError) as e:
        zf.read("t.js", 1 << 20)
    assert one_line(e, p).startswith(f"{p}: t.js: ")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil", "member '../evil' escapes the archive"),
        ("data/../../evil", "member 'data/../../evil' escapes the archive"),
        ("/etc/passwd", "member '/etc/passwd' has an absolute path"),
        ("C:/Windows/evil.dll", "member 'C:/Windows/evil.dll' has a drive letter"),
        ("..\\evil", "member '..\\\\evil' has a backslash in its name"),
        ("data\\..\\..\\evil", "has a backslash in its name"),
        ("a\nb", "member 'a\\nb' has control characters in its name"),
    ],
)
def test_unsafe_member_names(tmp_path: Path, name: str, problem: str) -> None:
    p = make_zip(tmp_path / "backup.zip", [("ok.txt", b"1"), (zipfile.ZipInfo(name), b"2")])
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert problem in one_line(e, p)


def test_name_problem_accepts_ordinary_names() -> None:
    for name in ["data/tweets.js", "data/tweets_media/1-a.jpg", "a/b/", "数据/推特.js", "a..b/c"]:
        assert name_problem(name) is None


def test_symlink_member(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("data/link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    p = make_zip(tmp_path / "backup.zip", [(link, b"/etc/passwd")])
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert one_line(e, p) == f"{p}: member 'data/link' is a symbolic link"


def test_special_file_member(tmp_path: Path) -> None:
    fifo = zipfile.ZipInfo("data/fifo")
    fifo.create_system = 3
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    p = make_zip(tmp_path / "backup.zip", [(fifo, b"")])
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert "is a special file" in one_line(e, p)


def test_duplicate_names(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "backup.zip", [("data/tweets.js", b"1"), ("data/tweets.js", b"2")])
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert one_line(e, p) == f"{p}: member 'data/tweets.js' appears twice"


def test_encrypted_member(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "backup.zip", {"data/tweets.js": b"x" * 100})
    data = bytearray(p.read_bytes())  # zipfile cannot write encrypted members: set the flag
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 0x1
    data[data.find(b"PK\x03\x04") + 6] |= 0x1
    p.write_bytes(bytes(data))
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert one_line(e, p) == f"{p}: member 'data/tweets.js' is encrypted"


def test_zip_bomb_ratio(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "bomb.zip", {"data/tweets.js": b"\x00" * (20 << 20)})
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    text = one_line(e, p)
    assert "member 'data/tweets.js' expands" in text and "zip bomb" in text
    # a legitimate ratio is fine, and a small file may compress as much as it likes
    ok = make_zip(tmp_path / "ok.zip", {"a": b" " * 100_000})
    with SafeZip(ok) as zf:
        assert zf.read("a", 1 << 20) == b" " * 100_000


def test_zip_bomb_declared_total(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "big.zip", {f"m{i}": bytes(range(256)) * 400 for i in range(5)})
    with pytest.raises(ArchiveError) as e:
        SafeZip(p, max_total=300_000)
    assert "declares 512000 bytes uncompressed, over the limit of 300000" in one_line(e, p)


def test_total_enforced_while_streaming(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "big.zip", {"m": bytes(range(256)) * 400})  # 102400 bytes
    with SafeZip(p, max_total=150_000) as zf:
        assert len(zf.read("m", 1 << 20)) == 102_400
        with pytest.raises(ArchiveError) as e:
            zf.read("m", 1 << 20)  # the cap counts bytes actually produced, re-reads included
        assert "expands past the limit of 150000 bytes" in one_line(e, p)


def test_ratio_enforced_while_streaming(tmp_path: Path) -> None:
    """A header that lies about the size cannot make a member expand past it: the
    reader stops and the CRC (or the size check) fails."""
    p = make_zip(tmp_path / "liar.zip", {"m": b"\x00" * (4 << 20)})
    data = bytearray(p.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<L", data, cd + 24, 1000)  # central directory: uncompressed size
    lh = data.find(b"PK\x03\x04")
    struct.pack_into("<L", data, lh + 22, 1000)
    p.write_bytes(bytes(data))
    with SafeZip(p) as zf, pytest.raises(ArchiveError) as e:
        zf.read("m", 1 << 30)
    assert one_line(e, p).startswith(f"{p}: m: ")
    assert zf.total_read <= 1000


def test_overlapping_members(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "overlap.zip", {"a": b"A" * 5000, "b": b"B" * 5000})
    data = bytearray(p.read_bytes())
    first = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", first + 4)
    struct.pack_into("<L", data, second + 42, 0)  # b's header offset -> a's data
    p.write_bytes(bytes(data))
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert "overlaps another member" in one_line(e, p)


def test_too_many_members(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(30)})
    with pytest.raises(ArchiveError) as e:
        SafeZip(p, max_members=10)
    assert "declares 30 members, more than the limit of 10" in one_line(e, p)


def test_unsupported_compression(tmp_path: Path) -> None:
    p = make_zip(tmp_path / "c.zip", {"a": b"hello"}, zipfile.ZIP_STORED)
    data = bytearray(p.read_bytes())
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<H", data, cd + 10, 9)  # deflate64
    p.write_bytes(bytes(data))
    with pytest.raises(ArchiveError) as e:
        SafeZip(p)
    assert "unsupported compression method 9" in one_line(e, p)


def test_error_message_escapes_hostile_names(tmp_path: Path) -> None:
    err = ArchiveError(tmp_path / "x.zip", "bad\nthing\r\x1b[31m", member="data/\nevil")
    assert "\n" not in str(err) and "\x1b" not in str(err)
    assert str(err) == f"{tmp_path / 'x.zip'}: data/ evil: bad thing [31m"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_only_archive_error(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.zip"
        p.write_bytes(data)
        try:
            with SafeZip(p) as zf:
                for name in zf.names():
                    if not name.endswith("/"):
                        zf.read(name, 1 << 20)
        except ArchiveError as e:
            assert "\n" not in str(e)


def _small_zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/tweets.js", b'window.YTD.tweets.part0 = [ {"tweet": {"id_str": "1"}} ]')
        zf.writestr("data/tweets_media/1-a.png", b"\x89PNG" + bytes(range(200)),
                    compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_zip_only_archive_error(data: st.DataObject) -> None:
    import tempfile

    raw = bytearray(_small_zip_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.zip"
        p.write_bytes(bytes(raw))
        try:
            with SafeZip(p) as zf:
                for name in zf.names():
                    if not name.endswith("/"):
                        zf.read(name, 1 << 20)
        except ArchiveError as e:
            assert "\n" not in str(e)
