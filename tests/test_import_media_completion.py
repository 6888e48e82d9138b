"""A later import completes a version's missing media, append-only: the real x-2026-milahu
export imported first without one of its pictures, then whole. The picture is attached by
an appended ``media_completions`` record with its own ledger leaf; the old media row is
never edited; ``verify``, receipts and ``verify --receipt`` know the new kind. On SQLite
and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from shared_data import ARCHIVES
from unerased.ingest import import_archive
from unerased.ledger.receipt import verify_receipt, write_receipt
from unerased.ledger.verify import verify_archive
from unerased.store import Store, schema

MILAHU = ARCHIVES / "x-2026-milahu" / "archive.zip"
TWEET = "2021607477964394540"
PICTURE = f"data/tweets_media/{TWEET}-HA4w43WWcAAfADF.jpg"


def without_picture(tmp_path: Path) -> Path:
    out = tmp_path / "milahu-without-picture.zip"
    with zipfile.ZipFile(MILAHU) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in src.namelist():
            if name != PICTURE:
                zf.writestr(name, src.read(name))
    return out


def picture_sha() -> str:
    with zipfile.ZipFile(MILAHU) as zf:
        return hashlib.sha256(zf.read(PICTURE)).hexdigest()


def media_of(store: Store, post_id: str) -> list[dict[str, Any]]:
    post = store.get_post(post_id)
    assert post is not None
    return list(post["media"])


def test_later_import_completes_missing_media(store: Store, tmp_path: Path) -> None:
    first = import_archive(store, "twitter-archive", without_picture(tmp_path))
    assert first.posts == 2092 and first.media_completed == 0
    (before,) = media_of(store, TWEET)
    assert before["sha256"] is None and before["url"]
    size_before = store.ledger_size()
    with store.reader() as conn:
        rows_before = [dict(r) for r in conn.execute(select(schema.media)).mappings()]

    second = import_archive(store, "twitter-archive", MILAHU)
    assert (second.new_posts, second.new_versions, second.media_completed) == (0, 0, 1)
    (after,) = media_of(store, TWEET)
    assert after["sha256"] == picture_sha() and after["url"] == before["url"]
    assert store.blobs.read(after["sha256"])[:3] == b"\xff\xd8\xff"  # the JPEG itself
    # appended, never edited: the old rows are as they were; two leaves (completion, import)
    with store.reader() as conn:
        assert [dict(r) for r in conn.execute(select(schema.media)).mappings()] == rows_before
        (done,) = conn.execute(select(schema.media_completions)).mappings().all()
        kinds = [r.kind for r in conn.execute(
            select(schema.ledger_leaves.c.kind).where(schema.ledger_leaves.c.idx >= size_before)
            .order_by(schema.ledger_leaves.c.idx))]
    assert kinds == ["media_completions", "imports"]
    assert done["sha256"] == picture_sha() and done["media_pk"] == before_pk(store, TWEET)
    assert verify_archive(store).ok

    # once complete, importing again appends nothing
    third = import_archive(store, "twitter-archive", MILAHU)
    assert third.media_completed == 0
    assert store.ledger_size() == size_before + 3  # the second and third import leaves only

    # the receipt carries the completion and the picture; it verifies offline
    out = tmp_path / "receipt.zip"
    write_receipt(store, TWEET, out)
    report = verify_receipt(out)
    assert report.ok, report.problems
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        leaves = [json.loads(zf.read(n)) for n in names if n.startswith("leaves/")]
    assert f"blobs/{picture_sha()}" in names
    (comp,) = [r for r in leaves if r["kind"] == "media_completion"]
    assert comp["sha256"] == picture_sha() and comp["post"]["post_id"] == TWEET
    assert any("media completed" in line for line in report.story)


def before_pk(store: Store, post_id: str) -> int:
    with store.reader() as conn:
        q = (select(schema.media.c.id)
             .join(schema.post_versions, schema.post_versions.c.id == schema.media.c.version_pk)
             .join(schema.posts, schema.posts.c.id == schema.post_versions.c.post_pk)
             .where(schema.posts.c.post_id == post_id))
        return int(conn.execute(q).scalar_one())


def test_verify_catches_a_changed_completion(store: Store, tmp_path: Path) -> None:
    import_archive(store, "twitter-archive", without_picture(tmp_path))
    import_archive(store, "twitter-archive", MILAHU)
    assert verify_archive(store).ok
    with store.engine.begin() as conn:
        conn.execute(schema.media_completions.update().values(size=1))
    report = verify_archive(store)
    assert not report.ok
    first = report.first
    assert first is not None and first.table == "media_completions"


def test_verify_catches_a_missing_completed_blob(store: Store, tmp_path: Path) -> None:
    import_archive(store, "twitter-archive", without_picture(tmp_path))
    import_archive(store, "twitter-archive", MILAHU)
    store.blobs.path(picture_sha()).unlink()
    report = verify_archive(store, check_orphans=False)
    assert not report.ok and report.first is not None and report.first.code == "blob_missing"


def test_receipt_with_a_changed_completion_is_rejected(store: Store, tmp_path: Path) -> None:
    import_archive(store, "twitter-archive", without_picture(tmp_path))
    import_archive(store, "twitter-archive", MILAHU)
    out = tmp_path / "r.zip"
    write_receipt(store, TWEET, out)
    with zipfile.ZipFile(out) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    name = next(n for n, d in members.items()
                if n.startswith("leaves/") and b'"kind":"media_completion"' in d)
    members[name] = members[name].replace(b'"size":', b'"size":1')
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    report = verify_receipt(bad)
    assert not report.ok and name in report.problems[0]


def test_completion_and_notices_through_the_reader_process(
        store: Store, tmp_path: Path, monkeypatch: Any) -> None:
    """Big archives are read by a second process: the completion and the account's name
    come through it the same way."""
    from unerased import ingest

    monkeypatch.setattr(ingest, "PIPELINE_MIN_BYTES", 0)
    first = import_archive(store, "twitter-archive", without_picture(tmp_path))
    second = import_archive(store, "twitter-archive", MILAHU)
    assert first.account == second.account == "x:milahu104"
    assert (first.media_completed, second.media_completed) == (0, 1)
    (after,) = media_of(store, TWEET)
    assert after["sha256"] == picture_sha()
    assert verify_archive(store).ok
