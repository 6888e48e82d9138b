"""Run ``unerased`` in a child process under real OS conditions: a umask, a file-size
limit (``RLIMIT_FSIZE``: a write past it fails with EFBIG, "File too large"; SIGXFSZ
ignored), or without the capability that lets root write where permission bits forbid it
(so a 0500 directory refuses root too, with EACCES). No mocks: the kernel says no.

Every child runs the unerased under test, with no proxy, allow-list or other
``UNERASED_*`` setting inherited from the environment of the test run."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import unerased

SRC = Path(unerased.__file__).resolve().parent.parent  # the unerased under test

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3
IS_ROOT = os.geteuid() == 0

SQL_WORDS = ("Traceback", "INSERT", "SELECT", "UPDATE", "COPY", "[SQL", "parameters")


def _drop_caps(*caps: int) -> None:
    """Drop root's permission-check bypasses from the bounding set: the program exec'd
    next runs as root without them (owner bits then bind root as anyone else; without
    CAP_FOWNER it cannot chmod what it does not own)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in caps:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))


def unerased_cmd(
    home: Path,
    db: str | None,
    *args: str,
    umask: int | None = None,
    fsize: int | None = None,
    no_dac_override: bool = False,
    no_fowner: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if umask is not None:
            os.umask(umask)
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if IS_ROOT and (no_dac_override or no_fowner):
            _drop_caps(*(_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH) * no_dac_override,
                       *(_CAP_FOWNER,) * no_fowner)

    return subprocess.run(command(home, db, *args), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=setup, env=cli_env(env))


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if "PROXY" not in k.upper() and not k.startswith("UNERASED_")}
    env["PYTHONPATH"] = str(SRC)
    env.update(extra or {})
    return env


def command(home: Path, db_url: str | None, *args: str) -> list[str]:
    base = ["--home", str(home)] + (["--db", db_url] if db_url else [])
    return [sys.executable, "-c", "from unerased.cli import main; main()", *base, *args]


def unerased_run(home: Path, db_url: str | None, *args: str,
                 env: Mapping[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(home, db_url, *args), capture_output=True, text=True,
                          env=cli_env(env), timeout=timeout)


def spawn(home: Path, db_url: str | None, *args: str,
          env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(command(home, db_url, *args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(env))


def jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def one_error_line(r: subprocess.CompletedProcess[str], secrets: Iterable[str] = ()) -> str:
    """The failure is exit 1 and exactly one line on stderr: no traceback, no SQL, none
    of ``secrets`` (post texts) anywhere in the output. Returns the line."""
    assert r.returncode == 1, (r.returncode, r.stderr[-3000:])
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr[-3000:]
    for word in SQL_WORDS:
        assert word not in r.stderr, r.stderr
    for s in secrets:
        assert s not in r.stderr and s not in r.stdout, s
    return lines[0]


def loose_modes(root: Path) -> list[tuple[str, str]]:
    """Every directory and file under ``root`` (itself included) that its group or
    others may use at all, with its mode."""
    out = []
    for d, dirs, files in os.walk(root):
        for p in [d, *(os.path.join(d, n) for n in dirs + files)]:
            mode = os.lstat(p).st_mode & 0o777
            if mode & 0o077:
                out.append((p, oct(mode)))
    return sorted(set(out))
