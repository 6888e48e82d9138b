"""Receipts: one zip that proves what happened to one post, verifiable with nothing else.

``write_receipt`` gathers the post's versions, the raw HTTP captures that showed it
present and then gone (named by the versions' sources, the detector's evidence and the
events' evidence), its account's status history and events, its media and capture
bodies, each covered row's ledger leaf (the exact record bytes and the salt), an RFC 9162
inclusion proof of every leaf to one signed checkpoint, that checkpoint, the public key,
and a ``manifest.json`` binding it all. ``verify_receipt`` checks such a zip on its own.

The format is specified in docs/receipts.md so that anyone can write a verifier.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import mkstemp_private, os_reason, private_dir
from ..errors import ArchiveError, BlobError, ReceiptError
from ..importers.safezip import SafeZip
from ..model import canonical_json
from ..refs import account_uri
from ..store import LedgerTables, ReceiptRows
from . import log, merkle, note
from . import records as rec
from .published import PUBLISHED_FORMAT, check_published, check_withheld, partition
from .verify import EMPTY_SHA256, leaf_record

if TYPE_CHECKING:
    from ..store import Connection, Store

__all__ = [
    "FORMAT",
    "KEY_WARNING",
    "PUBLISHED_FORMAT",
    "ReceiptError",
    "ReceiptReport",
    "ReceiptSummary",
    "ledger_status",
    "verify_receipt",
    "write_receipt",
]

FORMAT = "unerased-receipt"
VERSION = 1
MANIFEST = "manifest.json"
NOTE = "checkpoint.note"
TSR = "checkpoint.tsr"
KEY = "key.pub"
README = "README.txt"
KEY_WARNING = (
    "the receipt carries its own public key: check out of band that it is the archive's "
    "published key (compare the key ID), or anyone could have made this receipt"
)
MAX_JSON = 64 << 20  # a manifest or a leaf record
MAX_RECEIPT = 16 << 30  # everything decompressed
_KIND_TABLE = {
    "post_version": "post_versions", "account_status": "account_status", "capture": "captures",
    "import": "imports", "event": "events", "media_completion": "media_completions",
}
_README_TEXT = (
    "This is an unerased receipt: evidence about one social-media post, verifiable offline.\n"
    "\n"
    "Check it with `unerased verify --receipt THIS.zip`, or by hand as docs/receipts.md of\n"
    "the unerased project explains: every leaves/<n>.json is a record committed to a Merkle\n"
    "log (RFC 9162) whose signed checkpoint is checkpoint.note, signed by key.pub.\n"
    "Check that key.pub is the archive's published key.\n"
)
_PUBLISHED_README = _README_TEXT + (
    "\n"
    "This is a *published* receipt: it carries only what concerns its own post (its\n"
    "versions, the events about it, the raw answers of its direct lookups). What it left\n"
    "out, such as listings that hold other posts, is named in manifest.json (withheld).\n"
)


# --------------------------------------------------------------------------- writing


@dataclass
class _Leaf:
    index: int
    kind: str
    ref: str
    salt: bytes
    data: bytes  # canonical JSON of the record
    record: dict[str, Any]


def _find_post(conn: Connection, pk: int) -> Any:
    rows = ReceiptRows(conn).post_by_pk(pk)
    if not rows:  # removed since it was looked up
        raise ReceiptError(f"post row:{pk} is no longer in the archive")
    return rows[0]


def _ids_from_sources(sources: Iterable[str | None], prefix: str) -> list[str]:
    return [src[len(prefix):] for src in sources if src and src.startswith(prefix)]


def _collect(conn: Connection, post: Any) -> list[tuple[str, str]]:
    """(table, ref) of every leafed row the receipt of ``post`` covers."""
    out: list[tuple[str, str]] = []
    sources: list[str | None] = []
    rows = ReceiptRows(conn)
    for vid, source in rows.version_sources(post["id"]):
        out.append(("post_versions", str(vid)))
        sources.append(source)
    for mid, source in rows.completion_sources([int(ref) for _, ref in out]):
        out.append(("media_completions", str(mid)))
        sources.append(source)
    for sid, source in rows.status_sources(post["account_pk"]):
        out.append(("account_status", str(sid)))
        sources.append(source)
    evidence: list[str] = []
    for eid, evidence_json in rows.post_events(post["account_pk"], post["id"], post["post_id"]):
        out.append(("events", str(eid)))
        evidence += _str_list(evidence_json)
    state = _json_or_empty(post["state_json"])
    evidence += _str_list(state.get("seen_evidence")) + _str_list(state.get("evidence"))
    captures = list(dict.fromkeys(_ids_from_sources(sources, "capture:") + evidence))
    for cid in rows.existing_captures(captures):
        out.append(("captures", cid))
    shas = list(dict.fromkeys(_ids_from_sources(sources, "import:")))
    for iid in rows.imports_with_sha256(shas):
        out.append(("imports", str(iid)))
    return list(dict.fromkeys(out))


def _json_or_empty(text: str | None) -> dict[str, Any]:
    try:
        v = json.loads(text or "{}")
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def _str_list(v: Any) -> list[str]:
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return []
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _leaves(conn: Connection, refs: Sequence[tuple[str, str]]) -> list[_Leaf]:
    found = LedgerTables(conn).leaves_of(refs)
    out = []
    for kind, ref in refs:
        r = found.get((kind, ref))
        if r is None:
            raise ReceiptError(f"{kind} row {ref} has no ledger leaf: run `unerased verify`")
        try:
            record = leaf_record(conn, kind, ref)
        except (ValueError, TypeError):
            record = None
        if record is None:
            raise ReceiptError(f"{kind} row {ref} cannot be rebuilt: run `unerased verify`")
        salt = r.salt
        data = canonical_json(record)
        if merkle.leaf_hash(salt + data) != r.leaf_hash:
            raise ReceiptError(
                f"{kind} row {ref} does not match its ledger leaf {r.idx}: run `unerased verify`"
            )
        out.append(_Leaf(r.idx, kind, ref, salt, data, record))
    out.sort(key=lambda x: x.index)
    return out


def _blob_digests(leaves: Sequence[_Leaf]) -> list[str]:
    out: list[str] = []
    for lf in leaves:
        r = lf.record
        if r["kind"] == "post_version":
            out += [m["sha256"] for m in r["media"] if m["sha256"] is not None]
        elif r["kind"] == "media_completion":
            out.append(r["sha256"])
        elif r["kind"] == "capture":
            out.append(r["record"]["body_sha256"])
            if r["record"]["request_body_sha256"] != EMPTY_SHA256:
                out.append(r["record"]["request_body_sha256"])
    return sorted(set(out))


def _zinfo(name: str, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = compress
    zi.external_attr = 0o644 << 16
    return zi


@dataclass(frozen=True)
class ReceiptSummary:
    path: Path
    post_id: str
    leaves: int
    captures: int
    blobs: int
    checkpoint_size: int
    withheld: int = 0  # leaves a published receipt left out


def write_receipt(
    store: Store, post_ref: str, out_path: Path | str, *, checkpoint: bool = True,
    published: bool = False,
) -> ReceiptSummary:
    """Write the receipt of one post to ``out_path``. ``post_ref`` names it as the
    command line does (:meth:`Store.resolve_post`: its platform post id, its URL, an
    ``at://`` URI or ``row:N``; NotFound or AmbiguousError otherwise).

    When no checkpoint covers every leaf it needs, one is signed first (``checkpoint``
    False: fail instead). ``published``: a published receipt, with only what concerns
    the post itself (:mod:`unerased.ledger.published`)."""
    out_path = Path(out_path)
    pk = store.resolve_post(post_ref)["id"]
    withheld: list[dict[str, Any]] = []
    with store.reader() as conn:
        post = _find_post(conn, pk)
        refs = _collect(conn, post)
        if published:
            refs, withheld = _published_refs(conn, refs, post_ref)
        max_idx = _max_leaf(conn, refs)
        cp = log.latest_checkpoint(conn)
    if cp is None or cp.size <= max_idx:
        if not checkpoint:
            raise ReceiptError("no checkpoint covers this post yet: run `unerased checkpoint`")
        try:
            cp = log.make_checkpoint(store)
        except log.LedgerError as e:
            raise ReceiptError(str(e)) from None
    vkey = log.load_verifier(store.home)
    if vkey is None:
        raise ReceiptError(f"no public key in {store.home}/keys: cannot make a receipt")
    try:
        parsed = note.Checkpoint.open(cp.note, vkey)
    except note.NoteError as e:
        raise ReceiptError(f"the checkpoint of size {cp.size} does not verify: {e}") from None
    with store.reader() as conn:
        leaves = _leaves(conn, refs)
        reader = log.NodeReader(conn)
        if log.root_at(conn, cp.size, reader) != parsed.root:
            raise ReceiptError(f"the ledger does not match the checkpoint of size {cp.size}: "
                               "run `unerased verify`")
        proofs = {lf.index: log.inclusion_proof_at(conn, lf.index, cp.size, reader)
                  for lf in leaves}
    for lf in leaves:
        merkle.verify_inclusion(lf.index, cp.size, merkle.leaf_hash(lf.salt + lf.data),
                                proofs[lf.index], parsed.root)
    digests = _blob_digests(leaves)
    first = next((lf.record["post"] for lf in leaves if lf.kind == "post_versions"), None)
    if first is None:
        raise ReceiptError(f"post {post_ref!r} has no version in the archive")
    members: dict[str, bytes] = {
        README: _README_TEXT.encode("utf-8"),
        NOTE: cp.note.encode("utf-8"),
        KEY: (vkey + "\n").encode("utf-8"),
    }
    if cp.timestamp_der is not None:
        members[TSR] = cp.timestamp_der
    sizes: dict[str, int] = {}
    for d in digests:
        try:
            sizes[d] = os.path.getsize(store.blobs.path(d))
        except (OSError, BlobError):
            raise ReceiptError(f"blob {d} is missing: run `unerased verify`") from None
    if published:
        members[README] = _PUBLISHED_README.encode("utf-8")
    manifest: dict[str, Any] = {
        "format": PUBLISHED_FORMAT if published else FORMAT,
        "version": VERSION,
        "post": {"platform": first["platform"], "account_id": first["account_id"],
                 "post_id": first["post_id"]},
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
        "leaves": [{"index": lf.index, "salt": lf.salt.hex(),
                    "proof": [h.hex() for h in proofs[lf.index]]} for lf in leaves],
        "blobs": [{"sha256": d, "size": sizes[d]} for d in digests],
    }
    if published:
        manifest["withheld"] = withheld
    try:  # owner-only, whatever the umask: a receipt holds archive content
        private_dir(out_path.parent)
        fd, tmp = mkstemp_private(out_path.parent, ".receipt-")
    except OSError as e:
        raise ReceiptError(f"cannot write the receipt {out_path}: {os_reason(e)}") from None
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as zf:
            zf.writestr(_zinfo(MANIFEST), canonical_json(manifest))
            for name, data in members.items():
                zf.writestr(_zinfo(name), data)
            for lf in leaves:
                zf.writestr(_zinfo(f"leaves/{lf.index}.json"), lf.data)
            for d in digests:
                with store.blobs.open(d) as src, zf.open(_zinfo(f"blobs/{d}"), "w") as dst:
                    h = hashlib.sha256()
                    while chunk := src.read(1 << 20):
                        h.update(chunk)
                        dst.write(chunk)
                if h.hexdigest() != d:
                    raise ReceiptError(f"blob {d} was changed: run `unerased verify`")
        os.replace(tmp, out_path)
    except OSError as e:
        _unlink_quiet(tmp)
        raise ReceiptError(f"cannot write the receipt {out_path}: {os_reason(e)}") from None
    except BaseException:
        _unlink_quiet(tmp)
        raise
    return ReceiptSummary(out_path, str(post["post_id"]), len(leaves),
                          sum(lf.kind == "captures" for lf in leaves), len(digests), cp.size,
                          sum(w["count"] for w in withheld))


def ledger_status(store: Store, post_pk: int) -> dict[str, Any]:
    """What the ledger holds about the post row ``post_pk``: the leaves its receipt
    would carry (``kind``, ``ref``, leaf ``index``, ``included`` in the latest
    checkpoint), that checkpoint's ``size`` and time (None before the first), and
    whether every leaf is in it; rows without a leaf are listed with index None."""
    with store.reader() as conn:
        refs = _collect(conn, _find_post(conn, post_pk))
        found = LedgerTables(conn).leaves_of(refs)
        cp = log.latest_checkpoint(conn)
    size = cp.size if cp is not None else 0
    leaves = []
    for kind, ref in refs:
        r = found.get((kind, ref))
        leaves.append({"kind": kind, "ref": ref, "index": None if r is None else r.idx,
                       "included": r is not None and r.idx < size})
    leaves.sort(key=lambda x: (x["index"] is None, x["index"] or 0))
    return {"leaves": leaves,
            "checkpoint": None if cp is None else {"size": cp.size, "at": cp.at},
            "all_included": bool(leaves) and all(x["included"] for x in leaves)}


def _published_refs(conn: Connection, refs: Sequence[tuple[str, str]], post_ref: str
                    ) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """The refs a published receipt keeps, and its ``withheld`` list."""
    leaves = _leaves(conn, refs)
    if not any(lf.kind == "post_versions" for lf in leaves):
        raise ReceiptError(f"post {post_ref!r} has no version in the archive")
    keep, withheld = partition([lf.record for lf in leaves])
    return [(lf.kind, lf.ref) for lf, k in zip(leaves, keep, strict=True) if k], withheld


def _unlink_quiet(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _max_leaf(conn: Connection, refs: Sequence[tuple[str, str]]) -> int:
    return LedgerTables(conn).max_leaf_index(refs)


# --------------------------------------------------------------------------- verifying


@dataclass
class ReceiptReport:
    """What a receipt proves, once checked. ``ok`` is False when anything failed."""

    path: str
    problems: list[str] = field(default_factory=list)
    post: dict[str, Any] | None = None
    origin: str | None = None
    size: int | None = None
    root: str | None = None
    key: str | None = None
    key_id: str | None = None
    leaves: int = 0
    blobs: int = 0
    timestamp: dict[str, Any] | None = None
    story: list[str] = field(default_factory=list)
    warning: str = KEY_WARNING
    published: bool = False
    withheld: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if not self.ok:
            return f"{self.path}: {self.problems[0]}"
        p = self.post or {}
        ts = ""
        if self.timestamp:
            ts = f", timestamped {self.timestamp['time']} by {self.timestamp['tsa']}"
        kind = "published receipt" if self.published else "receipt"
        held = sum(int(w.get("count", 0)) for w in self.withheld)
        if self.published:
            ts += f"; {held} leaves withheld (they concern more than this post)"
        return (
            f"{kind} verified: {p.get('platform')} post {p.get('post_id')} of account "
            f"{self._account_uri()}: {self.leaves} leaves and {self.blobs} blobs included in "
            f"checkpoint {self.size} of log {self.origin} signed by key {self.key_id}{ts}"
        )

    def _account_uri(self) -> str | None:
        """The post's account in its canonical form, by its id (the receipt proves the
        id; a handle it may hold is what the account called itself then)."""
        p = self.post or {}
        if not isinstance(p.get("platform"), str) or not isinstance(p.get("account_id"), str):
            return None
        return account_uri(p["platform"], None, p["account_id"])

    def to_json(self) -> dict[str, Any]:
        post = None if self.post is None else {**self.post, "account_uri": self._account_uri()}
        return {
            "ok": self.ok, "path": self.path, "problems": list(self.problems), "post": post,
            "origin": self.origin, "size": self.size, "root": self.root, "key": self.key,
            "key_id": self.key_id, "leaves": self.leaves, "blobs": self.blobs,
            "timestamp": self.timestamp, "story": list(self.story), "warning": self.warning,
            "published": self.published, "withheld": [dict(w) for w in self.withheld],
        }


class _Bad(Exception):
    pass


def _is_hex(v: Any, n: int) -> bool:
    return isinstance(v, str) and len(v) == n and all(c in "0123456789abcdef" for c in v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _canonical(data: bytes, what: str) -> Any:
    try:
        value = json.loads(data.decode("utf-8"))
        again = canonical_json(value)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Bad(f"{what} is not valid JSON") from None
    if again != data:
        raise _Bad(f"{what} is not in canonical form (it was edited)")
    return value


def _check_manifest(m: Any) -> None:
    fields = {"format", "version", "post", "files", "leaves", "blobs"}
    if isinstance(m, dict) and m.get("format") == PUBLISHED_FORMAT:
        fields.add("withheld")
    if not isinstance(m, dict) or set(m) != fields:
        raise _Bad("manifest.json has missing or unknown fields")
    if m["format"] not in (FORMAT, PUBLISHED_FORMAT) or m["version"] != VERSION:
        raise _Bad(f"not an {FORMAT} version {VERSION}")
    if "withheld" in m and (problem := check_withheld(m["withheld"])) is not None:
        raise _Bad(f"manifest.json: {problem}")
    post = m["post"]
    if not isinstance(post, dict) or set(post) != {"platform", "account_id", "post_id"} or not all(
        isinstance(v, str) for v in post.values()
    ):
        raise _Bad("manifest.json: bad post")
    files = m["files"]
    if (not isinstance(files, dict) or not {README, NOTE, KEY} <= set(files)
            or not set(files) <= {README, NOTE, KEY, TSR}
            or not all(_is_hex(v, 64) for v in files.values())):
        raise _Bad("manifest.json: bad files")
    leaves = m["leaves"]
    if not isinstance(leaves, list) or not leaves:
        raise _Bad("manifest.json: no leaves")
    last = -1
    for lf in leaves:
        if (not isinstance(lf, dict) or set(lf) != {"index", "salt", "proof"}
                or not _is_int(lf["index"]) or not _is_hex(lf["salt"], 2 * rec.SALT_BYTES)
                or not isinstance(lf["proof"], list)
                or not all(_is_hex(h, 64) for h in lf["proof"])):
            raise _Bad("manifest.json: malformed leaf entry")
        if lf["index"] <= last:
            raise _Bad("manifest.json: leaves are not in strictly increasing order")
        last = lf["index"]
    blobs = m["blobs"]
    if not isinstance(blobs, list):
        raise _Bad("manifest.json: bad blobs")
    prev = ""
    for b in blobs:
        if (not isinstance(b, dict) or set(b) != {"sha256", "size"} or not _is_hex(b["sha256"], 64)
                or not _is_int(b["size"])):
            raise _Bad("manifest.json: malformed blob entry")
        if b["sha256"] <= prev:
            raise _Bad("manifest.json: blobs are not in strictly increasing order")
        prev = b["sha256"]


def _stream_sha256(z: SafeZip, name: str) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with z.open(name) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _check_record(r: Any, post: Mapping[str, str], blobs: set[str], used: set[str]) -> None:
    if not isinstance(r, dict) or r.get("f") != rec.FORMAT or r.get("kind") not in _KIND_TABLE:
        raise _Bad("not a known record")
    kind = r["kind"]
    if kind == "post_version":
        p = r.get("post")
        if not isinstance(p, dict) or any(p.get(k) != v for k, v in post.items()):
            raise _Bad("is a version of another post than the manifest names")
        media = r.get("media")
        if not isinstance(media, list):
            raise _Bad("post version without its media list")
        for m in media:
            d = m.get("sha256") if isinstance(m, dict) else None
            if d is not None:
                if d not in blobs:
                    raise _Bad(f"names media blob {str(d)[:64]} which the receipt lacks")
                used.add(d)
    elif kind == "media_completion":
        _check_completion(r, post, blobs, used)
    elif kind == "capture":
        inner = r.get("record")
        if not isinstance(inner, dict):
            raise _Bad("capture record without its exchange")
        if hashlib.sha256(canonical_json(inner)).hexdigest() != r.get("id"):
            raise _Bad("capture id is not the sha256 of the capture record")
        for key in ("body_sha256", "request_body_sha256"):
            d = inner.get(key)
            if d == EMPTY_SHA256 and d not in blobs:
                continue
            if d not in blobs:
                raise _Bad(f"capture {key} {str(d)[:64]} is not in the receipt")
            used.add(str(d))


def _check_completion(r: Mapping[str, Any], post: Mapping[str, str], blobs: set[str],
                      used: set[str]) -> None:
    p = r.get("post")
    if not isinstance(p, dict) or any(p.get(k) != v for k, v in post.items()):
        raise _Bad("completes media of another post than the manifest names")
    d = r.get("sha256")
    if d not in blobs:
        raise _Bad(f"names media blob {str(d)[:64]} which the receipt lacks")
    used.add(str(d))


def _story(leaves: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for r in leaves:
        k = r["kind"]
        if k == "post_version":
            t = str(r.get("text") or "").replace("\n", " ")
            t = t if len(t) <= 80 else t[:79] + "…"
            out.append(f"{r.get('observed_at')}  version {r.get('seq')} observed ({r.get('source')}): {t}")
        elif k == "capture":
            c = r["record"]
            status = c.get("status") if c.get("status") is not None else c.get("error")
            out.append(f"{c.get('started_at')}  capture {str(r['id'])[:12]}: {c.get('method')} "
                       f"{c.get('url')} -> {status}")
        elif k == "event":
            out.append(f"{r.get('at')}  event {r.get('type')} {json.dumps(r.get('detail'), ensure_ascii=False)}")
        elif k == "account_status":
            out.append(f"{r.get('at')}  account status {r.get('status')} (handle {r.get('handle')})")
        elif k == "media_completion":
            out.append(f"{r.get('at')}  media completed ({r.get('source')}): media "
                       f"{r.get('seq')} of version {r.get('version')} is {r.get('filename')} "
                       f"sha256 {r.get('sha256')}")
        elif k == "import":
            out.append(f"{r.get('at')}  archive import {r.get('import_kind')} {r.get('filename')} "
                       f"sha256 {r.get('sha256')}")
    return sorted(out)


class _Members:
    """The receipt's files inside a (safe) zip, however it was packed.

    The same receipt unzipped and zipped again (``zip -r``, an archive manager) differs
    only in what carries no content: directory entries, compression, member order,
    dates, extra fields, the zip comment — and it may sit in one folder
    (``receipt/manifest.json``…, from ``zip -r receipt.zip receipt/``). None of that
    matters here; every file is still accounted for by :meth:`check`."""

    def __init__(self, z: SafeZip) -> None:
        self.z = z
        names = z.names()
        self.dirs = [n for n in names if n.endswith("/")]
        self.files = [n for n in names if not n.endswith("/")]
        self.root = ""
        if MANIFEST not in self.files:
            roots = [n[: -len(MANIFEST)] for n in self.files
                     if n.count("/") == 1 and n.endswith("/" + MANIFEST)]
            if not roots:
                raise _Bad("manifest.json is missing")
            if len(roots) > 1:
                shown = ", ".join(repr(r) for r in roots[:5])
                raise _Bad(f"manifest.json is in several folders ({shown[:200]})")
            self.root = roots[0]

    def check(self, expected: set[str]) -> None:
        """Exactly the ``expected`` files (receipt names); a directory entry only for a
        folder that holds them, and empty."""
        root = self.root
        for name in self.files:
            if not name.startswith(root) or name[len(root):] not in expected:
                raise _Bad(f"unexpected member {name[:200]!r} (added to the receipt)")
        folders = {root} if root else set()
        for name in expected:
            parts = name.split("/")[:-1]
            folders |= {root + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))}
        for name in self.dirs:
            if name not in folders:
                raise _Bad(f"unexpected member {name[:200]!r} (a directory added to the "
                           "receipt)")
            if self.z.size(name) != 0:
                raise _Bad(f"unexpected member {name[:200]!r} (a directory entry holding "
                           "data)")
        present = set(self.files)
        for name in sorted(expected):
            if root + name not in present:
                raise _Bad(f"member {root + name} is missing")

    def read(self, name: str, limit: int) -> bytes:
        return self.z.read(self.root + name, limit)

    def sha256(self, name: str) -> tuple[str, int]:
        return _stream_sha256(self.z, self.root + name)


def verify_receipt(path: Path | str) -> ReceiptReport:
    """Check a receipt zip with nothing else at hand (no database, no home).

    Any problem — a changed byte in any member, a missing or extra file, a hostile zip
    — makes ``ok`` False with the reason first in ``problems``. How the zip was packed
    does not matter (see :class:`_Members`)."""
    report = ReceiptReport(str(path))
    try:
        with SafeZip(path, max_total=MAX_RECEIPT) as z:
            _verify(_Members(z), report)
    except ArchiveError as e:
        report.problems.append(f"not a valid receipt zip: {e.problem}"
                               + (f" ({e.member})" if e.member else ""))
    except _Bad as e:
        report.problems.append(str(e))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
        # a well-signed but strangely shaped receipt: still one line, never a traceback
        report.problems.append(f"malformed receipt ({type(e).__name__}: {str(e)[:200]})")
    return report


def _verify(z: _Members, report: ReceiptReport) -> None:
    m = _canonical(z.read(MANIFEST, MAX_JSON), "manifest.json")
    _check_manifest(m)
    expected = {MANIFEST, *m["files"]}
    expected |= {f"leaves/{lf['index']}.json" for lf in m["leaves"]}
    expected |= {f"blobs/{b['sha256']}" for b in m["blobs"]}
    z.check(expected)
    for name, digest in m["files"].items():
        if z.sha256(name)[0] != digest:
            raise _Bad(f"member {name} was changed (its sha256 differs from the manifest)")
    key_text = z.read(KEY, 64 << 10).decode("utf-8", "replace")
    if not key_text.endswith("\n"):
        raise _Bad("key.pub must end with a newline")
    vkey = key_text[:-1]
    try:
        parsed_key = note.parse_verifier(vkey)
        cp = note.Checkpoint.open(z.read(NOTE, 1 << 20), vkey)
    except note.NoteError as e:
        raise _Bad(f"checkpoint.note does not verify with key.pub: {e}") from None
    report.key, report.key_id = vkey, f"{parsed_key.key_id:08x}"
    report.origin, report.size, report.root = cp.origin, cp.size, cp.root.hex()
    blobs = {b["sha256"] for b in m["blobs"]}
    used: set[str] = set()
    records = []
    for lf in m["leaves"]:
        name = f"leaves/{lf['index']}.json"
        data = z.read(name, MAX_JSON)
        try:
            merkle.verify_inclusion(lf["index"], cp.size,
                                    merkle.leaf_hash(bytes.fromhex(lf["salt"]) + data),
                                    [bytes.fromhex(h) for h in lf["proof"]], cp.root)
        except merkle.ProofError as e:
            raise _Bad(f"{name} is not leaf {lf['index']} of the checkpoint ({e}): the record, "
                       "its salt or its proof was changed") from None
        r = _canonical(data, name)
        try:
            _check_record(r, m["post"], blobs, used)
        except _Bad as e:
            raise _Bad(f"{name}: {e}") from None
        records.append(r)
        report.leaves += 1
    if not any(r["kind"] == "post_version" for r in records):
        raise _Bad("the receipt holds no version of its post")
    if m["format"] == PUBLISHED_FORMAT:
        if (problem := check_published(records)) is not None:
            raise _Bad(problem)
        report.published = True
        report.withheld = [dict(w) for w in m["withheld"]]
    for b in m["blobs"]:
        name = f"blobs/{b['sha256']}"
        digest, n = z.sha256(name)
        if digest != b["sha256"]:
            raise _Bad(f"member {name} was changed (its content hashes to {digest})")
        if n != b["size"]:
            raise _Bad(f"member {name} is {n} bytes, the manifest says {b['size']}")
        if b["sha256"] not in used:
            raise _Bad(f"member {name} is not named by any record of the receipt")
        report.blobs += 1
    if TSR in m["files"]:
        report.timestamp = _check_timestamp(z.read(TSR, 1 << 20), z.read(NOTE, 1 << 20))
    report.post = dict(m["post"])
    report.story = _story(records)


def _check_timestamp(tsr: bytes, note_bytes: bytes) -> dict[str, Any]:
    from . import timestamp

    try:
        info = timestamp.verify_response(tsr, note_bytes, None)
    except timestamp.TimestampError as e:
        raise _Bad(f"checkpoint.tsr does not verify: {e}") from None
    return {"time": info.gen_time.isoformat().replace("+00:00", "Z"), "tsa": info.tsa_name,
            "serial": info.serial, "note": "the TSA certificate chain is not checked here"}
