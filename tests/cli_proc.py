"""Run ``unerased`` as a user does: a real process (the unerased under test on its
path), with no proxy or allow-list inherited from the environment of the test run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import unerased

SRC = Path(unerased.__file__).resolve().parent.parent

_DROP = ("PROXY", "UNERASED_ALLOW_HOSTS", "UNERASED_DEBUG", "UNERASED_DB", "UNERASED_HOME")


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not any(d in k.upper() for d in _DROP)}
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
