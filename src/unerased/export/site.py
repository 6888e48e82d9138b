"""``export site OUT``: a static mirror of what was erased, to publish (Politwoops-style).

``write_site(store, out)`` writes, into a new or empty directory ``OUT``:

- ``index.html``: the deleted posts, newest deletion first, and the closed accounts;
- ``posts/<slug>.html``: one page per deleted post (every version, the deletion with
  its ``last_seen`` / ``first_missing`` bounds, its receipt);
- ``accounts/<slug>.html``: one page per account with a published deletion or closed;
- ``receipts/<slug>.zip``: each post's *published receipt*
  (:mod:`unerased.ledger.published`: only what concerns that post);
- ``feed.atom`` (Atom 1.0), ``about.html``, ``style.css``, ``key.pub`` and
  ``checkpoint.note`` (the log's key and the checkpoint the receipts are proved to).

No script, no remote asset, no server needed. Everything a platform sent is hostile:
the templates (``site_templates/``, Jinja2) escape every value, characters XML cannot
hold are replaced, links go only to ``http(s)`` URLs, and the pages carry a
Content-Security-Policy that forbids scripts anyway. What is never published: accounts
that are or were protected, or tagged ``public=no``; posts whose platform JSON says they
were not public; other posts' salts and listing captures (receipts withhold them); the
watcher's own tags. The site is built in a temporary directory beside ``OUT`` and moved
into place at the end: a failure leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import open_private, os_reason, private_dir
from ..errors import ExportError, UsageError
from ..refs import account_uri

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["CLOSED", "SiteSummary", "is_public_post", "slug", "write_site"]

CLOSED = ("deleted", "suspended", "deactivated")
"""Account statuses the site lists as closed."""
_NOT_PUBLIC_TAG = ("no", "false", "0", "off")
_SLUG_PART = re.compile(r"[^a-z0-9]+")
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
ProgressFn = Callable[[int, int], None]


def slug(*key: str) -> str:
    """A safe file name for a post or an account: lowercase ASCII letters, digits and
    ``-`` only (no dot, no path, never a reserved name on any file system), readable
    from the last part of the key, unique by a hash of the whole key."""
    readable = _SLUG_PART.sub("-", key[-1].lower()).strip("-")[-40:].strip("-")
    digest = hashlib.sha256("\x00".join(key).encode("utf-8")).hexdigest()[:12]
    return f"{key[0][:12]}-{readable}-{digest}" if readable else f"{key[0][:12]}-{digest}"


def is_public_post(raws: Iterable[str | None]) -> bool:
    """False when the platform JSON of any version says the post was not public: a
    Mastodon status's ``visibility`` other than ``public``, an ActivityPub activity
    (a Mastodon archive's outbox) not addressed to the public collection."""
    from ..importers import mastodon_visibility

    for raw in raws:
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            return False  # cannot tell: not published
        if not isinstance(value, dict):
            continue
        if "visibility" in value and value["visibility"] != "public":
            return False
        if ("to" in value or "cc" in value) and mastodon_visibility(value) != "public":
            return False
    return True


@dataclass(frozen=True)
class SiteSummary:
    path: Path
    posts: int  # deleted posts published
    accounts: int  # account pages
    closed: int  # closed accounts listed
    left_out_accounts: int  # protected or public=no accounts (in the --tag selection)
    left_out_posts: int  # deleted posts that were not public


def _http_url(url: Any) -> str | None:
    """The URL when it is an absolute http(s) URL without characters that could break
    out of an attribute (the templates escape anyway), else None: never a link to
    ``javascript:``, ``data:`` or anything else."""
    if not isinstance(url, str) or len(url) > 2000:
        return None
    low = url.lower()
    if not (low.startswith("https://") or low.startswith("http://")):
        return None
    if any(c.isspace() or ord(c) < 0x20 or c in "\"'<>`\\" for c in url):
        return None
    return url


def _check_out(out: Path) -> None:
    if out.is_symlink():
        raise UsageError(f"{out} is a symbolic link: give a new or empty directory")
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out} exists and is not a directory: give a new or empty one")
        try:
            empty = next(out.iterdir(), None) is None
        except OSError as e:
            raise ExportError(f"cannot read {out}: {os_reason(e)}") from None
        if not empty:
            raise UsageError(f"{out} is not empty: give a new or empty directory "
                             "(a site is never written over other files)")


def _tags(row: Mapping[str, Any]) -> dict[str, str]:
    try:
        t = json.loads(row.get("tags_json") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in t.items()} if isinstance(t, dict) else {}


@dataclass
class _Account:
    row: dict[str, Any]
    slug: str
    uri: str
    events: list[dict[str, Any]]
    posts: list[dict[str, Any]]
    views: list[dict[str, Any]] = field(default_factory=list)  # its posts' page data

    @property
    def closed(self) -> bool:
        return str(self.row["status"]) in CLOSED

    @functools.cached_property
    def view(self) -> dict[str, Any]:
        """The account as the templates show it (made once)."""
        r = self.row
        acct_events = [e for e in self.events if e["post_id"] is None]
        closed_at = next((e["at"] for e in reversed(acct_events)
                          if e["type"] == f"account_{r['status']}"), None)
        return {
            "slug": self.slug, "uri": self.uri, "platform": r["platform"],
            "handle": r["handle"], "account_id": r["account_id"],
            "display_name": r["display_name"], "url": _http_url(r["url"]),
            "status": r["status"], "closed": self.closed, "closed_at": closed_at,
            "first_seen": r["first_seen"], "last_seen": r["last_seen"],
            "events": [{"type": e["type"], "at": e["at"],
                        "detail": json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)}
                       for e in acct_events],
            "deleted": len(self.posts),
        }


def _post_view(p: Mapping[str, Any], acct: _Account, event: Mapping[str, Any] | None
               ) -> dict[str, Any]:
    detail = dict(event["detail"]) if event else {}
    versions = [{"seq": v["seq"], "text": v["text"], "edited_at": v["edited_at"],
                 "observed_at": v["observed_at"]} for v in p["versions"]]
    text = versions[-1]["text"] if versions else ""
    return {
        "slug": slug(p["platform"], str(p["account_id"]), p["post_id"]),
        "platform": p["platform"], "post_id": p["post_id"], "url": _http_url(p["url"]),
        "kind": p["kind"], "created_at": p["created_at"], "account": acct.view,
        "versions": versions, "edited": len(versions) > 1, "text": text,
        "excerpt": text if len(text) <= 200 else text[:199] + "…",
        "media": [{k: m.get(k) for k in ("filename", "mime", "kind", "alt", "sha256", "size")}
                  for m in p["media"]],
        "deleted_at": p["deleted_at"] or (event["at"] if event else None),
        "reason": p["deleted_reason"] or detail.get("reason"),
        "last_seen": detail.get("last_seen") or p["last_seen"],
        "first_missing": detail.get("first_missing"),
        "evidence": list(event["evidence"]) if event else [],
        "event_at": event["at"] if event else None,
    }


def _gather(store: Store, tags: Sequence[tuple[str, str]],
            accounts: Collection[int] | None = None) -> tuple[list[_Account], int, int]:
    """The accounts to publish (with their public deleted posts and events), and how
    many accounts and posts were left out as not public."""
    from ..store import PublishRows

    with store.reader() as conn:
        protected = PublishRows(conn).ever_protected()
    out: list[_Account] = []
    left_accounts = left_posts = 0
    for row in store.list_accounts():
        t = _tags(row)
        if accounts is not None and row["id"] not in accounts:
            continue
        if any(t.get(k) != v for k, v in tags):
            continue
        if (row["id"] in protected or row["status"] == "protected"
                or t.get("public", "").strip().lower() in _NOT_PUBLIC_TAG):
            left_accounts += 1
            continue
        posts = list(store.iter_posts(account_pk=row["id"], status="deleted"))
        with store.reader() as conn:
            raws = PublishRows(conn).version_raws([p["id"] for p in posts])
        public = [p for p in posts if is_public_post(raws.get(p["id"], []))]
        left_posts += len(posts) - len(public)
        if not public and str(row["status"]) not in CLOSED:
            continue
        uri = account_uri(row["platform"], row["handle"], row["account_id"])
        events = list(store.iter_events(account_pk=row["id"]))
        out.append(_Account(row, slug(row["platform"], row["account_id"]), uri, events,
                            public))
    return out, left_accounts, left_posts


def _environment() -> Any:
    import jinja2
    import markupsafe

    def clean(value: Any) -> Any:  # every {{ }}: no character XML or HTML cannot hold
        if value is None:
            return ""
        if isinstance(value, markupsafe.Markup):  # a macro's output, made of clean values
            return value
        return _BAD_XML.sub("\ufffd", value) if isinstance(value, str) else value

    return jinja2.Environment(
        loader=jinja2.PackageLoader("unerased.export", "site_templates"),
        autoescape=True, finalize=clean, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )


def _write(path: Path, data: bytes) -> None:
    with open(open_private(path), "wb") as f:
        f.write(data)


def _checkpoint(store: Store) -> tuple[str, str]:
    """The checkpoint note every receipt of the site is proved to (signed now when none
    covers the whole ledger) and the log's public key."""
    from ..errors import ReceiptError
    from ..ledger import log

    with store.reader() as conn:
        cp = log.latest_checkpoint(conn)
    if cp is None or cp.size < log.tree_size(store):
        cp = log.make_checkpoint(store)
    key = log.load_verifier(store.home)
    if key is None:
        raise ReceiptError(f"no public key in {store.home}/keys: cannot make receipts")
    return cp.note, key


def write_site(store: Store, out: Path | str, *, tags: Sequence[tuple[str, str]] = (),
               accounts: Collection[int] | None = None, progress: ProgressFn | None = None, generated_at: str | None = None
               ) -> SiteSummary:
    """Write the static site into ``out`` (new, or an empty directory). ``tags``: only
    accounts with every one of these tags; ``accounts``: only these account rows.
    ``progress(done, total)`` counts posts."""
    from ..model import iso, utcnow

    out = Path(os.path.abspath(out))  # "." and "a/.." have a name, and a parent
    _check_out(out)
    chosen, left_accounts, left_posts = _gather(store, tags, accounts)
    now = generated_at or iso(utcnow()) or ""
    note, key = _checkpoint(store) if any(a.posts for a in chosen) else ("", "")
    try:
        private_dir(out.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.part-", dir=out.parent))
    except OSError as e:
        raise ExportError(f"cannot write {out}: {os_reason(e)}") from None
    try:
        summary = _render(store, tmp, chosen, tags, now, note, key, progress,
                          left_accounts, left_posts)
        if out.is_dir():
            out.rmdir()  # empty: checked above
        os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"cannot write {out}: {os_reason(e)}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SiteSummary(out, *summary)


def _render(store: Store, root: Path, accounts: list[_Account], tags: Sequence[tuple[str, str]],
            now: str, note: str, key: str, progress: ProgressFn | None,
            left_accounts: int, left_posts: int) -> tuple[int, int, int, int, int]:
    from importlib.resources import files

    from ..ledger.receipt import write_receipt

    env = _environment()
    for d in ("posts", "accounts", "receipts"):
        private_dir(root / d)
    posts: list[dict[str, Any]] = []
    total = sum(len(a.posts) for a in accounts)
    for acct in accounts:
        deleted_events = {e["post_id"]: e for e in acct.events if e["type"] == "post_deleted"}
        views = []
        for p in acct.posts:
            v = _post_view(p, acct, deleted_events.get(p["post_id"]))
            s = write_receipt(store, f"row:{p['id']}", root / "receipts" / f"{v['slug']}.zip",
                              published=True)
            v["receipt"] = {"leaves": s.leaves, "captures": s.captures, "blobs": s.blobs,
                            "withheld": s.withheld, "checkpoint": s.checkpoint_size}
            views.append(v)
            posts.append(v)
            if progress is not None:
                progress(len(posts), total)
        views.sort(key=lambda v: (v["deleted_at"] or "", v["post_id"]), reverse=True)
        acct.views = views
    posts.sort(key=lambda v: (v["deleted_at"] or "", v["post_id"]), reverse=True)
    closed = sorted((a.view for a in accounts if a.closed),
                    key=lambda a: (a["closed_at"] or "", a["uri"]), reverse=True)
    site = {"generated_at": now, "tags": [f"{k}={v}" for k, v in tags],
            "key": key, "note": note, "left_accounts": left_accounts,
            "left_posts": left_posts, "posts": len(posts)}

    def page(template: str, path: Path, depth: int, **ctx: Any) -> None:
        html = env.get_template(template).render(site=site, up="../" * depth, **ctx)
        _write(path, html.encode("utf-8"))

    page("index.html", root / "index.html", 0, posts=posts, closed=closed)
    page("about.html", root / "about.html", 0)
    for v in posts:
        page("post.html", root / "posts" / f"{v['slug']}.html", 1, post=v)
    for acct in accounts:
        page("account.html", root / "accounts" / f"{acct.slug}.html", 1, account=acct.view,
             posts=acct.views)
    feed_id = uuid.uuid5(uuid.NAMESPACE_URL, "unerased-site:" + key)
    entries = [{**v, "id": f"urn:uuid:{uuid.uuid5(feed_id, v['slug'])}"} for v in posts[:500]]
    atom = env.get_template("feed.atom").render(
        site=site, id=f"urn:uuid:{feed_id}", entries=entries,
        updated=posts[0]["deleted_at"] if posts else now)
    _write(root / "feed.atom", atom.encode("utf-8"))
    css = files("unerased.export").joinpath("site_templates", "style.css").read_bytes()
    _write(root / "style.css", css)
    if key:
        _write(root / "key.pub", (key + "\n").encode("utf-8"))
        _write(root / "checkpoint.note", note.encode("utf-8"))
    with contextlib.suppress(OSError):
        os.chmod(root, 0o700)
    return len(posts), len(accounts), len(closed), left_accounts, left_posts
