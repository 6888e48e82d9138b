"""The Bluesky repository CAR importer, against repositories built per the atproto spec
(the builder itself is checked against the reference implementations' known roots)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import libipld
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unerased.errors import ArchiveError
from unerased.importers.bluesky_car import iter_bluesky_car, iter_repo_records
from unerased.model import AccountSnapshot, PostSnapshot, canonical_json
from unerased.sim.archives_fedi import (
    build_mst,
    build_repo_car,
    cid_for,
    dag_cbor_block,
    encode_car,
    make_bluesky_car,
    mst_layer,
    tid,
)

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


def _bin(cid: str) -> bytes:
    d = libipld.decode_cid(cid)
    return bytes([1, d["codec"], d["hash"]["code"], d["hash"]["size"]]) + bytes(d["hash"]["digest"])


def _error(path: Path, **kw: Any) -> ArchiveError:
    with pytest.raises(ArchiveError) as info:
        list(iter_bluesky_car(path, **kw))
    err = info.value
    assert "\n" not in str(err)
    assert str(err).startswith(str(path))
    return err


def _post(text: str = "hi") -> dict[str, Any]:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-01-01T00:00:00.000Z"}


# -- the builder agrees with the reference implementations ------------------------


VALUE = "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454"
KNOWN_ROOTS = [
    ([], "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"),
    (["3jqfcqzm3fo2j"], "bafyreibj4lsc3aqnrvphp5xmrnfoorvru4wynt6lwidqbm2623a6tatzdu"),
    (["3jqfcqzm3fx2j"], "bafyreih7wfei65pxzhauoibu3ls7jgmkju4bspy4t2ha2qdjnzqvoy33ai"),
    (["3jqfcqzm3fp2j", "3jqfcqzm3fr2j", "3jqfcqzm3fs2j", "3jqfcqzm3ft2j", "3jqfcqzm4fc2j"],
     "bafyreicmahysq4n6wfuxo522m6dpiy7z7qzym3dzs756t5n7nfdgccwq7m"),
    (["3jqfcqzm3fo2j", "3jqfcqzm3fp2j", "3jqfcqzm3fr2j", "3jqfcqzm3fs2j", "3jqfcqzm3ft2j", "3jqfcqzm3fx2j", "3jqfcqzm3fz2j", "3jqfcqzm4fc2j", "3jqfcqzm4fd2j", "3jqfcqzm4ff2j", "3jqfcqzm4fg2j", "3jqfcqzm4fh2j"],
     "bafyreid2x5eqs4w4qxvc5jiwda4cien3gw2q6cshofxwnvv7iucrmfohpm"),
    (["3jqfcqzm3ft2j", "3jqfcqzm3fx2j", "3jqfcqzm3fz2j", "3jqfcqzm4fd2j"],
     "bafyreig4jv3vuajbsybhyvb7gggvpwh2zszwfyttjrj6qwvcsp24h6popu"),
]


@pytest.mark.parametrize(("rkeys", "root"), KNOWN_ROOTS)
def test_mst_builder_matches_interop_roots(rkeys: list[str], root: str) -> None:
    cid, _blocks = build_mst({f"com.example.record/{k}": _bin(VALUE) for k in rkeys})
    assert libipld.encode_cid(cid) == root


@pytest.mark.parametrize(
    ("key", "layer"),
    [("", 0), ("asdf", 0), ("blue", 1), ("2653ae71", 0), ("88bfafc7", 2), ("2a92d355", 4),
     ("884976f5", 6), ("app.bsky.feed.post/454397e440ec", 4),
     ("app.bsky.feed.post/9adeb165882c", 8)],
)
def test_mst_layer_known_values(key: str, layer: int) -> None:
    assert mst_layer(key) == layer


def test_tid_is_13_sortable_chars() -> None:
    a, b = tid(1_700_000_000_000_000), tid(1_700_000_000_000_001)
    assert len(a) == 13 and a < b


def test_reads_interop_tree_with_empty_intermediate_nodes(tmp_path: Path) -> None:
    # The 4-key interop map has a layer-2 root whose layer-0 keys hang under an empty
    # layer-1 node: the walk must go through it.
    keys = [f"app.bsky.feed.post/{k}" for k in KNOWN_ROOTS[5][0]]
    build = build_repo_car(DID, {k: _post(k) for k in keys})
    path = tmp_path / "repo.car"
    path.write_bytes(build.car)
    assert [f"{r.collection}/{r.rkey}" for r in iter_repo_records(path)] == sorted(keys)


# -- field mapping ---------------------------------------------------------------


def test_field_mapping(tmp_path: Path) -> None:
    spec = make_bluesky_car(tmp_path / "repo.car", n_posts=150, seed=3)
    calls: list[tuple[int, int]] = []
    out = list(iter_bluesky_car(spec.path, progress=lambda d, t: calls.append((d, t))))
    account = out[0]
    assert isinstance(account, AccountSnapshot)
    assert account.platform == "bluesky" and account.account_id == DID
    assert account.display_name == "林晓雨 Lin"
    assert account.profile["description"] == spec.bio
    assert account.profile["avatar"] == spec.extra["avatar"]
    assert account.created_at == spec.created_at
    assert account.url == f"https://bsky.app/profile/{DID}"

    posts = out[1:]
    assert all(isinstance(p, PostSnapshot) for p in posts)
    assert [p.post_id for p in posts if isinstance(p, PostSnapshot)] == sorted(
        g.post_id for g in spec.posts)  # key order
    size = spec.path.stat().st_size
    assert calls[-1] == (size, size)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    got = {p.post_id: p for p in posts if isinstance(p, PostSnapshot)}
    kinds = set()
    for g in spec.posts:
        p = got[g.post_id]
        kinds.add(g.kind)
        assert p.platform == "bluesky" and p.account_id == DID
        assert (p.kind, p.text, p.created_at, p.url, p.lang) == (
            g.kind, g.text, g.created_at, g.url, g.lang)
        assert (p.reply_to, p.repost_of, p.quote_of) == (g.reply_to, g.repost_of, g.quote_of)
        assert p.version_key == g.version_key == spec.extra["record_cids"][g.post_id.split("/", 3)[3]]
        assert [(m.filename, m.mime, m.alt, m.kind, m.url, m.content) for m in p.media] == [
            (m.filename, m.mime, m.alt, m.kind, None, None) for m in g.media]
        assert p.raw is not None
        canonical_json(p.raw)  # JSON-safe: links became {"$link": ...}
    assert kinds == {"post", "reply", "repost", "quote"}
    assert any(m.kind == "video" for g in spec.posts for m in g.media)
    for p in got.values():
        assert p.raw is not None and p.raw["uri"] == p.post_id and p.raw["cid"] == p.version_key
    blob_refs = [p.raw["value"]["embed"]["images"][0]["image"]["ref"] for p in got.values()
                 if p.raw and p.raw["value"].get("embed", {}).get("$type") == "app.bsky.embed.images"]
    assert blob_refs and all(set(r) == {"$link"} for r in blob_refs)


def test_blob_urls_when_the_pds_is_known(tmp_path: Path) -> None:
    spec = make_bluesky_car(tmp_path / "repo.car", n_posts=60, seed=5)
    pds = "https://pds.example"
    out = list(iter_bluesky_car(spec.path, pds=pds))
    account = out[0]
    assert isinstance(account, AccountSnapshot)
    assert account.profile["avatar"] == (
        f"{pds}/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3Aewvi7nxzyoun6zhxrhs64oiz"
        f"&cid={spec.extra['avatar']}")
    media = [m for p in out[1:] if isinstance(p, PostSnapshot) for m in p.media]
    assert media and all(m.url == f"{pds}/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3A"
                         f"ewvi7nxzyoun6zhxrhs64oiz&cid={m.filename}" for m in media)


def test_embed_variants(tmp_path: Path) -> None:
    img = {"$type": "blob", "ref": cid_for(b"img", 0x55), "mimeType": "image/jpeg", "size": 3}
    thumb = {"cid": libipld.encode_cid(cid_for(b"thumb", 0x55)), "mimeType": "image/png"}  # legacy
    quoted = {"uri": "at://did:plc:x/app.bsky.feed.post/q", "cid": VALUE}
    records = {
        "app.bsky.feed.post/a": {**_post("with media"), "embed": {
            "$type": "app.bsky.embed.recordWithMedia", "record": {"record": quoted},
            "media": {"$type": "app.bsky.embed.images", "images": [{"image": img, "alt": ""}]}}},
        "app.bsky.feed.post/b": {**_post("link"), "langs": [5, "zh-Hant"], "embed": {
            "$type": "app.bsky.embed.external",
            "external": {"uri": "https://x.example", "title": "t", "description": "", "thumb": thumb}}},
    }
    path = _write(tmp_path, build_repo_car(DID, records).car)
    a, b = [p for p in iter_bluesky_car(path) if isinstance(p, PostSnapshot)]
    assert (a.kind, a.quote_of) == ("quote", quoted["uri"])
    assert [(m.filename, m.mime, m.alt, m.kind) for m in a.media] == [
        (libipld.encode_cid(cid_for(b"img", 0x55)), "image/jpeg", None, "image")]
    assert (b.kind, b.lang) == ("post", "zh-Hant")
    assert [(m.filename, m.kind) for m in b.media] == [(thumb["cid"], "image")]


def test_all_records_including_likes_and_follows(tmp_path: Path) -> None:
    spec = make_bluesky_car(tmp_path / "repo.car", n_posts=20, seed=1, n_other=7)
    recs = list(iter_repo_records(spec.path))
    assert len(recs) == spec.extra["n_records"]
    assert sum(r.collection == "app.bsky.feed.like" for r in recs) == 7
    likes = list(iter_repo_records(spec.path, collections={"app.bsky.graph.follow"}))
    assert len(likes) == 7 and {r.collection for r in likes} == {"app.bsky.graph.follow"}


def test_no_profile_record_still_gives_account_first(tmp_path: Path) -> None:
    build = build_repo_car(DID, {"app.bsky.feed.post/3jqfcqzm3fo2j": _post("only")})
    path = tmp_path / "repo.car"
    path.write_bytes(build.car)
    out = list(iter_bluesky_car(path))
    assert isinstance(out[0], AccountSnapshot) and out[0].profile == {}
    assert [p.text for p in out[1:] if isinstance(p, PostSnapshot)] == ["only"]


def test_empty_repo(tmp_path: Path) -> None:
    path = tmp_path / "repo.car"
    path.write_bytes(build_repo_car(DID, {}).car)
    out = list(iter_bluesky_car(path))
    assert len(out) == 1 and isinstance(out[0], AccountSnapshot)


_RKEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=1, max_size=15)
_COLL = st.sampled_from(["app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.feed.repost",
                         "com.example.record", "zzz.other"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.sets(st.tuples(_COLL, _RKEY), max_size=300))
def test_mst_walk_recovers_every_record(tmp_path: Path, keys: set[tuple[str, str]]) -> None:
    records = {f"{c}/{r}": _post(f"{c}/{r}") for c, r in keys}
    build = build_repo_car(DID, records)
    path = tmp_path / "repo.car"
    path.write_bytes(build.car)
    got = list(iter_repo_records(path))
    assert [f"{r.collection}/{r.rkey}" for r in got] == sorted(records)
    assert {f"{r.collection}/{r.rkey}": r.cid for r in got} == dict(build.record_cids)
    assert all(r.value["text"] == f"{r.collection}/{r.rkey}" for r in got)
    posts = {p.post_id for p in iter_bluesky_car(path) if isinstance(p, PostSnapshot)}
    assert posts == {f"at://{DID}/{k}" for k in records
                     if k.startswith(("app.bsky.feed.post/", "app.bsky.feed.repost/"))}


# -- hostile input -----------------------------------------------------------------


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.car"
    path.write_bytes(data)
    return path


def _small_build() -> Any:
    records = {f"app.bsky.feed.post/{tid(1_700_000_000_000_000 + i)}": _post(f"p{i}")
               for i in range(40)}
    return build_repo_car(DID, records)


def test_not_a_car(tmp_path: Path) -> None:
    _error(_write(tmp_path, b"PK\x03\x04 this is a zip, not a CAR"))
    _error(_write(tmp_path, b""))
    _error(_write(tmp_path, b'{"json": true}'))
    assert "cannot open" in _error(tmp_path / "absent.car").problem


def test_truncated_anywhere(tmp_path: Path) -> None:
    car = _small_build().car
    for cut in list(range(0, 200)) + list(range(200, len(car) - 1, 37)):
        _error(_write(tmp_path, car[:cut]))


def test_missing_blocks(tmp_path: Path) -> None:
    build = _small_build()
    node_cids = {cid for cid, data in build.blocks[1:] if isinstance(libipld.decode_dag_cbor(data), dict)
                 and "e" in libipld.decode_dag_cbor(data)}
    for drop in [build.blocks[0][0], build.data, next(iter(node_cids - {build.data}), build.data),
                 _bin(next(iter(build.record_cids.values())))]:
        blocks = [(c, d) for c, d in build.blocks if c != drop]
        err = _error(_write(tmp_path, encode_car(build.root, blocks)))
        assert "missing" in err.problem


def test_tampered_block_does_not_match_cid(tmp_path: Path) -> None:
    build = _small_build()
    cid, data = build.blocks[-1]
    forged = libipld.encode_dag_cbor({**libipld.decode_dag_cbor(data), "text": "forged"})
    blocks = [*build.blocks[:-1], (cid, forged)]
    assert "does not match" in _error(_write(tmp_path, encode_car(build.root, blocks))).problem


def _car_with(tmp_path: Path, commit: Any, extra: list[tuple[bytes, bytes]] = ()) -> Path:  # type: ignore[assignment]
    root, data = dag_cbor_block(commit)
    return _write(tmp_path, encode_car(root, [(root, data), *extra]))


def _commit(mst: bytes, **over: Any) -> dict[str, Any]:
    return {"did": DID, "version": 3, "data": mst, "rev": tid(1), "prev": None,
            "sig": b"\x80" * 64, **over}


def test_wrong_types(tmp_path: Path) -> None:
    rec_cid, rec = dag_cbor_block(_post())
    good_node = {"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/abc", "v": rec_cid, "t": None}]}
    node_cid, node = dag_cbor_block(good_node)
    ok = _car_with(tmp_path, _commit(node_cid), [(node_cid, node), (rec_cid, rec)])
    assert len(list(iter_bluesky_car(ok))) == 2
    cases: list[tuple[Any, list[tuple[bytes, bytes]]]] = [
        (["not", "a", "map"], []),
        (_commit(node_cid, did="not a did"), [(node_cid, node)]),
        (_commit(node_cid, version=99), [(node_cid, node)]),
        (_commit(node_cid, version=True), [(node_cid, node)]),
        (_commit(node_cid, data="bafy-string-not-link"), [(node_cid, node)]),
    ]
    for bad_node in [
        {"l": None, "e": "nope"},
        {"l": "x", "e": []},
        {"l": None, "e": [{"p": 5, "k": b"app.bsky.feed.post/abc", "v": rec_cid, "t": None}]},
        {"l": None, "e": [{"p": 0, "k": "str", "v": rec_cid, "t": None}]},
        {"l": None, "e": [{"p": 0, "k": b"no-slash", "v": rec_cid, "t": None}]},
        {"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/\xff", "v": rec_cid, "t": None}]},
        {"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/abc", "v": b"junk", "t": None}]},
        {"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/b", "v": rec_cid, "t": None},
                          {"p": 0, "k": b"app.bsky.feed.post/a", "v": rec_cid, "t": None}]},
        [1, 2, 3],
    ]:
        cid, data = dag_cbor_block(bad_node)
        cases.append((_commit(cid), [(cid, data), (rec_cid, rec)]))
    list_cid, list_rec = dag_cbor_block(["a record that is a list"])
    n_cid, n_data = dag_cbor_block(
        {"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/abc", "v": list_cid, "t": None}]})
    cases.append((_commit(n_cid), [(n_cid, n_data), (list_cid, list_rec)]))
    for commit, extra in cases:
        _error(_car_with(tmp_path, commit, extra))


def test_shared_subtree_is_refused(tmp_path: Path) -> None:
    # A valid MST is a tree; a node reached twice (the same guard stops cycles).
    rec_cid, rec = dag_cbor_block(_post())
    child_cid, child = dag_cbor_block(
        {"l": None, "e": [{"p": 0, "k": b"a.b.c/a", "v": rec_cid, "t": None}]})
    root_cid, root = dag_cbor_block(
        {"l": child_cid, "e": [{"p": 0, "k": b"a.b.c/b", "v": rec_cid, "t": child_cid}]})
    path = _car_with(tmp_path, _commit(root_cid), [(root_cid, root), (child_cid, child), (rec_cid, rec)])
    assert "twice" in _error(path).problem


def test_bad_headers(tmp_path: Path) -> None:
    build = _small_build()
    body = build.car[len(libipld.encode_dag_cbor({"version": 1, "roots": [build.root]})) + 1:]
    for header in [{"version": 2, "roots": [build.root]}, {"version": 1, "roots": []},
                   {"version": 1, "roots": ["bafy"]}, {"version": 1}, [1], {"version": 1, "roots": [b"\x01\x02"]}]:
        h = libipld.encode_dag_cbor(header)
        _error(_write(tmp_path, bytes([len(h)]) + h + body))
    v2 = bytes.fromhex("0aa16776657273696f6e02") + b"\x00" * 40
    assert "v2" in _error(_write(tmp_path, v2)).problem
    _error(_write(tmp_path, b"\xff" * 12))  # endless varint


def test_size_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, _small_build().car)
    assert "limit" in _error(path, max_bytes=100).problem


def test_non_dag_cbor_block_links(tmp_path: Path) -> None:
    raw = b"raw bytes"
    raw_cid = cid_for(raw, 0x55)
    node_cid, node = dag_cbor_block({"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/a",
                                                         "v": raw_cid, "t": None}]})
    path = _car_with(tmp_path, _commit(node_cid), [(node_cid, node), (raw_cid, raw)])
    assert "not DAG-CBOR" in _error(path).problem
    # a block claiming a non-sha256 hash
    odd = bytes([1, 0x71, 0x13, 0x40]) + hashlib.sha512(raw).digest()
    n2, d2 = dag_cbor_block({"l": None, "e": [{"p": 0, "k": b"app.bsky.feed.post/a", "v": odd, "t": None}]})
    assert "unsupported hash" in _error(
        _car_with(tmp_path, _commit(n2), [(n2, d2), (odd, libipld.encode_dag_cbor(_post()))])).problem


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_random_bytes_only_archive_error(tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ArchiveError):
        list(iter_bluesky_car(path))


_BUILD = _small_build()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(0, len(_BUILD.car) - 1), byte=st.integers(0, 255),
       cut=st.integers(0, len(_BUILD.car)))
def test_mutated_car_never_crashes(tmp_path: Path, pos: int, byte: int, cut: int) -> None:
    data = bytearray(_BUILD.car)
    data[pos] = byte
    path = _write(tmp_path, bytes(data[:cut]))
    try:
        out = list(iter_bluesky_car(path))
    except ArchiveError as e:
        assert "\n" not in str(e)
    else:  # only a change that leaves every block intact can succeed
        assert isinstance(out[0], AccountSnapshot)


_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
    | st.binary(max_size=40) | st.sampled_from([_bin(VALUE), "app.bsky.embed.images", "blob",
                                                 "app.bsky.embed.record", "image/png", VALUE]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["$type", "text", "createdAt", "langs", "reply", "parent", "uri", "embed",
                         "images", "image", "ref", "mimeType", "alt", "record", "media", "video",
                         "subject", "displayName", "avatar", "cid"]), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(post=st.dictionaries(st.sampled_from(["text", "createdAt", "langs", "reply", "embed"]), _VALUE,
                            max_size=5),
       repost=st.dictionaries(st.sampled_from(["subject", "createdAt"]), _VALUE, max_size=2),
       profile=st.dictionaries(st.sampled_from(["displayName", "description", "avatar", "banner",
                                                "createdAt", "pinnedPost"]), _VALUE, max_size=4))
def test_random_record_contents_never_crash(
    tmp_path: Path, post: dict[str, Any], repost: dict[str, Any], profile: dict[str, Any]
) -> None:
    records = {"app.bsky.feed.post/a": {"$type": "app.bsky.feed.post", **post},
               "app.bsky.feed.repost/b": {"$type": "app.bsky.feed.repost", **repost},
               "app.bsky.actor.profile/self": {"$type": "app.bsky.actor.profile", **profile}}
    path = _write(tmp_path, build_repo_car(DID, records).car)
    out = list(iter_bluesky_car(path))  # record contents never make the import fail
    assert isinstance(out[0], AccountSnapshot)
    assert [p.post_id for p in out[1:] if isinstance(p, PostSnapshot)] == [
        f"at://{DID}/app.bsky.feed.post/a", f"at://{DID}/app.bsky.feed.repost/b"]
    for snap in out[1:]:
        assert isinstance(snap, PostSnapshot) and isinstance(snap.text, str)
        canonical_json(snap.raw)
    canonical_json(dict(out[0].profile))


def test_same_snapshots_as_the_bluesky_source(tmp_path: Path) -> None:
    # A post imported from a CAR and the same post fetched live must hash and compare
    # alike, or the archive would see phantom edits.
    from unerased.sources.bluesky import post_from_record

    spec = make_bluesky_car(tmp_path / "repo.car", n_posts=120, seed=11)
    pds = "https://pds.example"
    for snap in iter_bluesky_car(spec.path, pds=pds):
        if not isinstance(snap, PostSnapshot) or snap.kind == "repost":
            continue
        live = post_from_record(snap.raw, pds=pds)
        assert live is not None
        fields = ("post_id", "account_id", "text", "created_at", "url", "kind", "reply_to",
                  "quote_of", "lang", "version_key", "media")
        assert {f: getattr(snap, f) for f in fields} == {f: getattr(live, f) for f in fields}
        assert snap.content_hash() == live.content_hash()
