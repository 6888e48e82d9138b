"""The store-backed Merkle log: nodes, roots, proofs, the signing key and checkpoints.

The tree itself lives in the store (``ledger_leaves``: each leaf's row, salt and hash,
the tree's level 0; ``ledger_nodes``: the perfect subtrees of level 1 and up; ``ledger_head``,
written by the store's writer in the same transaction as the rows the leaves cover).
This module reads it through the store's :class:`~unerased.store.LedgerTables` (all the
SQL is the store's), computes with :mod:`unerased.ledger.merkle` and signs checkpoints.

Identity of the log (see docs/receipts.md):

* **origin** — ``unerased/<id>``, where ``<id>`` is 26 random base32 characters made the
  first time a checkpoint is signed and kept in the database's ``meta`` table (key
  ``ledger_origin``): the origin names the *database's* log, whichever machine signs.
* **key** — an Ed25519 signed-note key named after the origin, made at first use and
  kept in ``<home>/keys/ledger.key`` (the signer key) and ``<home>/keys/ledger.pub`` (the
  verifier key, to publish: copy it), both 0600 in a 0700 directory whatever the umask
  (the home is owner-only). The verifier key of the log
  is also recorded in ``meta`` (``ledger_key``) so that a second machine holding
  another key refuses to sign for this log instead of forking it.

Only checkpoints (signed notes: origin, tree size, root) are meant to leave the machine.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._files import mkstemp_private, os_reason, private_dir, tighten
from ..errors import BlobError, LedgerError, WriteConflict
from ..model import iso, utcnow
from ..store import CheckpointRow, LedgerTables
from . import merkle, note

if TYPE_CHECKING:
    import httpx

    from ..store import Connection, Store

__all__ = [
    "KEY_FILE",
    "META_KEY",
    "META_ORIGIN",
    "PUB_FILE",
    "CheckpointRow",
    "LedgerError",
    "NodeReader",
    "consistency_proof",
    "consistency_proof_at",
    "fetch_nodes",
    "get_origin",
    "inclusion_proof",
    "inclusion_proof_at",
    "key_paths",
    "latest_checkpoint",
    "list_checkpoints",
    "load_signer",
    "load_verifier",
    "make_checkpoint",
    "root_at",
    "tree_root",
    "tree_size",
]

KEY_DIR = "keys"
KEY_FILE = "ledger.key"
PUB_FILE = "ledger.pub"
META_ORIGIN = "ledger_origin"
META_KEY = "ledger_key"
ORIGIN_PREFIX = "unerased/"
CACHE_NODES = 4096
_T = TypeVar("_T")
_TSR_MAX = 1 << 20  # an RFC 3161 answer is a few kilobytes


# --------------------------------------------------------------------------- nodes


def fetch_nodes(conn: Connection, ids: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored perfect nodes ``(level, idx)`` among ``ids``, in as few queries as possible
    (level 0, a leaf's hash; the others from the tree's nodes): see
    :meth:`unerased.store.LedgerTables.fetch_nodes`."""
    return LedgerTables(conn).fetch_nodes(ids)


class NodeReader:
    """``get_node(level, idx)`` over the stored tree, with a small LRU cache.

    ``prefetch`` loads many nodes in one query (what a proof or a root will read), so a
    proof costs one round-trip instead of one per node."""

    def __init__(self, conn: Connection, cache_size: int = CACHE_NODES) -> None:
        self.conn = conn
        self.tables = LedgerTables(conn)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def prefetch(self, ids: Iterable[tuple[int, int]]) -> None:
        missing = [k for k in ids if k not in self._cache]
        if missing:
            for k, h in self.tables.fetch_nodes(missing).items():
                self._put(k, h)

    def _put(self, key: tuple[int, int], h: bytes) -> None:
        self._cache[key] = h
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def get_node(self, level: int, idx: int) -> bytes:
        key = (level, idx)
        h = self._cache.get(key)
        if h is not None:
            self._cache.move_to_end(key)
            return h
        got = self.tables.fetch_nodes([key]).get(key)
        if got is None:
            raise LedgerError(f"ledger node (level {level}, index {idx}) is missing")
        self._put(key, got)
        return got


def _head_size(conn: Connection) -> int:
    return LedgerTables(conn).head_size()


def _check_size(conn: Connection, size: int) -> None:
    head = _head_size(conn)
    if size < 0 or size > head:
        raise LedgerError(f"tree size {size} is outside the ledger (it holds {head} leaves)")


def _within(conn: Connection, size: int, compute: Callable[[], _T]) -> _T:
    """``compute()`` over the tree of ``size`` leaves. The ledger's head is read only when
    a node is missing, to say why (a tree beyond the head always lacks a node covering
    its last leaf): one round-trip less per proof."""
    if size < 0:
        raise LedgerError(f"tree size {size} is outside the ledger")
    try:
        return compute()
    except LedgerError:
        _check_size(conn, size)
        raise


def root_at(conn: Connection, size: int, reader: NodeReader | None = None) -> bytes:
    """The root of the first ``size`` leaves, read in one query."""
    r = reader or NodeReader(conn)

    def compute() -> bytes:
        r.prefetch(merkle.subtree_node_ids(0, size))
        return merkle.root(size, r.get_node)

    return _within(conn, size, compute)


def inclusion_proof_at(
    conn: Connection, leaf_idx: int, size: int, reader: NodeReader | None = None
) -> list[bytes]:
    if not 0 <= leaf_idx < size:
        _check_size(conn, size)
        raise LedgerError(f"leaf {leaf_idx} is outside a tree of size {size}")
    r = reader or NodeReader(conn)

    def compute() -> list[bytes]:
        r.prefetch([i for a, b in merkle.inclusion_proof_ranges(leaf_idx, size)
                    for i in merkle.subtree_node_ids(a, b)])
        return merkle.inclusion_proof(leaf_idx, size, r.get_node)

    return _within(conn, size, compute)


def consistency_proof_at(
    conn: Connection, old: int, new: int, reader: NodeReader | None = None
) -> list[bytes]:
    if not 0 < old <= new:
        _check_size(conn, new)
        raise LedgerError(f"no consistency proof from size {old} to size {new}")
    r = reader or NodeReader(conn)

    def compute() -> list[bytes]:
        r.prefetch([i for a, b in merkle.consistency_proof_ranges(old, new)
                    for i in merkle.subtree_node_ids(a, b)])
        return merkle.consistency_proof(old, new, r.get_node)

    return _within(conn, new, compute)


def tree_size(store: Store) -> int:
    with store.reader() as conn:
        return _head_size(conn)


def tree_root(store: Store, size: int | None = None) -> bytes:
    """The root of the tree of ``size`` leaves (default: all of them)."""
    with store.reader() as conn:
        return root_at(conn, _head_size(conn) if size is None else size)


def inclusion_proof(store: Store, leaf_idx: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of leaf ``leaf_idx`` in the tree of ``size`` leaves."""
    with store.reader() as conn:
        return inclusion_proof_at(conn, leaf_idx, size)


def consistency_proof(store: Store, old: int, new: int) -> list[bytes]:
    """RFC 9162 consistency proof from tree size ``old`` to tree size ``new``."""
    with store.reader() as conn:
        return consistency_proof_at(conn, old, new)


# --------------------------------------------------------------------------- keys


def key_paths(home: Path) -> tuple[Path, Path]:
    """``(<home>/keys/ledger.key, <home>/keys/ledger.pub)``."""
    d = Path(home) / KEY_DIR
    return d / KEY_FILE, d / PUB_FILE


def _write_new(path: Path, text: str, cipher: Any = None) -> bool:
    """Create ``path`` (0600, in a 0700 directory) atomically with ``text``, never
    overwriting; False if it exists. An OS error is a one-line LedgerError, and leaves
    neither the key nor a temporary file. ``cipher`` (an encrypted home's
    :class:`~unerased.vault.BlobCipher`): the file is written sealed."""
    data = text.encode("utf-8")
    if cipher is not None:
        data = cipher.seal_file(data, path.name)
    try:
        private_dir(path.parent)
        fd, tmp = mkstemp_private(path.parent, ".tmp-")
    except OSError as e:
        raise LedgerError(f"cannot write the key {path}: {os_reason(e)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process made one first
        except FileExistsError:
            return False
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return True
    except OSError as e:
        raise LedgerError(f"cannot write the key {path}: {os_reason(e)}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _read_key_file(path: Path, cipher: Any = None) -> str | None:
    """A key file's text; a sealed one (an encrypted home's signing key) is opened with
    ``cipher``."""
    from ..vault import is_sealed

    try:
        data = path.read_bytes()
        if is_sealed(data):
            if cipher is None:
                raise LedgerError(f"the key {path} is encrypted: this needs the unlocked "
                                  "archive")
            data = cipher.open_file(data, path.name)
        text = data.decode("utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LedgerError(f"cannot read the key {path}: {os_reason(e)}") from None
    except BlobError as e:
        raise LedgerError(f"cannot read the key {path}: {e}") from None
    except UnicodeDecodeError as e:
        raise LedgerError(f"cannot read the key {path}: {e}") from None
    if not text:
        raise LedgerError(f"the key file {path} is empty")
    return text


def load_signer(home: Path, *, create_with_name: str | None = None,
                cipher: Any = None) -> str | None:
    """The signer key string in ``<home>/keys/ledger.key``.

    When there is none and ``create_with_name`` is given, a new key with that name is
    made (0600) together with its verifier key ``ledger.pub``. Returns None when there
    is no key and none was to be made."""
    key_path, pub_path = key_paths(home)
    skey = _read_key_file(key_path, cipher)
    if skey is None:
        if create_with_name is None:
            return None
        _write_new(key_path, note.generate_signer(create_with_name) + "\n", cipher)
        skey = _read_key_file(key_path, cipher)  # ours, or one a concurrent process made
        assert skey is not None
    try:
        vkey = note.verifier_from_signer(skey)
    except note.NoteError as e:
        raise LedgerError(f"{key_path}: {e}") from None
    with contextlib.suppress(OSError):  # made by an older version, or by hand
        for p in (key_path.parent, key_path, pub_path):
            tighten(p)
    have_pub = _read_key_file(pub_path)
    if have_pub is None:
        _write_new(pub_path, vkey + "\n")
    elif have_pub != vkey:
        raise LedgerError(f"{pub_path} is not the public key of {key_path}")
    return skey


def load_verifier(home: Path) -> str | None:
    """The verifier key string in ``<home>/keys/ledger.pub`` (or derived from the signer
    key when only that exists); None when the home has no key."""
    key_path, pub_path = key_paths(home)
    vkey = _read_key_file(pub_path)
    if vkey is None:
        skey = _read_key_file(key_path)
        if skey is None:
            return None
        try:
            vkey = note.verifier_from_signer(skey)
        except note.NoteError as e:
            raise LedgerError(f"{key_path}: {e}") from None
    try:
        note.parse_verifier(vkey)
    except note.NoteError as e:
        raise LedgerError(f"{pub_path}: {e}") from None
    return vkey


# --------------------------------------------------------------------------- checkpoints


def list_checkpoints(conn: Connection) -> list[CheckpointRow]:
    return LedgerTables(conn).checkpoints()


def latest_checkpoint(conn: Connection, *, at_least: int = 0) -> CheckpointRow | None:
    return LedgerTables(conn).latest_checkpoint(at_least=at_least)


def _meta_get(conn: Connection, key: str) -> str | None:
    return LedgerTables(conn).meta(key)


def get_origin(conn: Connection) -> str | None:
    """This database's log origin, or None before the first checkpoint."""
    return _meta_get(conn, META_ORIGIN)


def _new_origin() -> str:
    return ORIGIN_PREFIX + base64.b32encode(os.urandom(16)).decode("ascii").rstrip("=").lower()


def _ensure_identity(store: Store) -> tuple[str, str]:
    """(origin, signer key) for this database and home, making them at first use."""
    with store.reader() as conn:
        origin = _meta_get(conn, META_ORIGIN)
        known = _meta_get(conn, META_KEY)
    if origin is None:
        with store.writer() as w:  # the ledger lock serialises first-use races
            origin = w.ledger.meta(META_ORIGIN)
            if origin is None:
                origin = _new_origin()
                w.set_meta(META_ORIGIN, origin)
    skey = load_signer(store.home, create_with_name=origin, cipher=store.blobs.cipher)
    assert skey is not None
    vkey = note.verifier_from_signer(skey)
    name = note.parse_verifier(vkey).name
    key_path = key_paths(store.home)[0]
    if name != origin:
        raise LedgerError(
            f"the key {key_path} signs the log {name!r}, but this database is the log "
            f"{origin!r}; use the home that belongs to this database"
        )
    if known is None:
        with store.writer() as w:
            known = w.ledger.meta(META_KEY)
            if known is None:
                w.set_meta(META_KEY, vkey)
                known = vkey
    if known != vkey:
        raise LedgerError(
            f"this database's checkpoints are signed by key {known.split('+')[1]}, not by "
            f"{key_path}; copy the ledger key from the machine that holds it"
        )
    return origin, skey


def _check_previous(
    conn: Connection, prev: CheckpointRow, size: int, root: bytes, origin: str, vkey: str,
    reader: NodeReader,
) -> None:
    """Refuse (LedgerError) unless the tree of ``size``/``root`` extends checkpoint ``prev``."""
    where = f"checkpoint of size {prev.size}"
    try:
        cp = note.Checkpoint.open(prev.note, vkey)
    except note.NoteError as e:
        raise LedgerError(f"REFUSING to sign: the previous {where} does not verify: {e}") from None
    if cp.origin != origin or cp.size != prev.size or cp.root != prev.root:
        raise LedgerError(f"REFUSING to sign: the previous {where} does not match its note")
    if size < prev.size:
        raise LedgerError(
            f"REFUSING to sign: the ledger holds {size} leaves, fewer than the {where}: "
            "leaves were removed"
        )
    if size == prev.size:
        if root != prev.root:
            raise LedgerError(f"REFUSING to sign: the ledger's root differs from the {where}")
        return
    proof = consistency_proof_at(conn, prev.size, size, reader)
    try:
        merkle.verify_consistency(prev.size, size, prev.root, root, proof)
    except merkle.ProofError as e:
        raise LedgerError(
            f"REFUSING to sign: the ledger is not consistent with the {where} ({e}); "
            "history was rewritten — run `unerased verify`"
        ) from None


def make_checkpoint(
    store: Store,
    *,
    timestamp_url: str | None = None,
    client: httpx.Client | None = None,
    timestamp_ca_pem: bytes | None = None,
    proxy: str | None = None,
) -> CheckpointRow:
    """Sign a checkpoint of the current tree and store it.

    It is signed only after a consistency proof from the previous checkpoint verifies
    (LedgerError otherwise: nothing is signed). When the tree has not grown since the
    previous checkpoint, that one is returned. With ``timestamp_url`` the signed note is
    also timestamped by that RFC 3161 authority (through ``client``), the answer verified
    (chained to ``timestamp_ca_pem`` when given) and kept; a failed timestamp stores
    nothing. The request goes through ``proxy`` when given (a client from
    ``unerased.net``: no environment proxy, no redirect followed).
    """
    if tree_size(store) == 0:
        raise LedgerError("the ledger is empty: nothing to checkpoint yet")
    origin, skey = _ensure_identity(store)
    vkey = note.verifier_from_signer(skey)
    with store.reader() as conn:
        size = _head_size(conn)
        if size == 0:
            raise LedgerError("the ledger is empty: nothing to checkpoint yet")
        reader = NodeReader(conn)
        root = root_at(conn, size, reader)
        prev = latest_checkpoint(conn)
        if prev is not None:
            _check_previous(conn, prev, size, root, origin, vkey, reader)
            if prev.size == size and (prev.timestamp_der is not None or not timestamp_url):
                return prev
    signed = prev.note if prev is not None and prev.size == size else (
        note.Checkpoint(origin, size, root).sign(skey)
    )
    tsr = None
    if timestamp_url:
        tsr = _timestamp(signed, timestamp_url, client, timestamp_ca_pem, proxy)
    row = CheckpointRow(size, root, iso(utcnow()) or "", signed, tsr)
    try:
        with store.writer() as w:
            existing = w.ledger.latest_checkpoint(at_least=size)
            if existing is not None and existing.size == size:
                if existing.root != root:
                    raise LedgerError(
                        f"REFUSING: another checkpoint of size {size} has another root")
                if tsr is not None and existing.timestamp_der is None and existing.note == signed:
                    w.set_checkpoint_timestamp(size, tsr)
                    return CheckpointRow(size, root, existing.at, existing.note, tsr)
                return existing
            w.add_checkpoint(row)
    except WriteConflict:  # a concurrent signer won the race (PostgreSQL)
        raise LedgerError(f"a checkpoint of size {size} was made concurrently; "
                          "run `unerased checkpoint` again") from None
    return row


def _timestamp(
    signed_note: str, url: str, client: httpx.Client | None, ca_pem: bytes | None,
    proxy: str | None = None,
) -> bytes:
    """An RFC 3161 TimeStampResp (DER) over the signed note, verified before it is kept."""
    import httpx

    from .. import net
    from . import timestamp

    data = signed_note.encode("utf-8")
    req = timestamp.build_request(data)
    nonce = timestamp.request_nonce(req)
    own = client is None
    # the authority the user named is the service; through the proxy when one is set
    http = client if client is not None else net.sync_client(
        net.settings(proxy=proxy, services=[url], max_body=_TSR_MAX))
    try:
        resp = http.post(url, content=req, headers={
            "content-type": "application/timestamp-query",
            "accept": "application/timestamp-reply",
        })
        if resp.status_code != 200:
            raise LedgerError(f"timestamp authority {url} answered HTTP {resp.status_code}")
        timestamp.verify_response(resp.content, data, ca_pem, nonce=nonce)
        return bytes(resp.content)
    except httpx.HTTPError as e:
        raise LedgerError(f"timestamp authority {url} cannot be reached: {e}") from None
    except timestamp.TimestampError as e:
        raise LedgerError(f"timestamp from {url} rejected: {e}") from None
    finally:
        if own:
            http.close()
