"""The proxy the user gives the command line is used: the global ``--proxy``,
``checkpoint --proxy`` and ``UNERASED_PROXY`` (DESIGN.md: a watch's own proxy, else the
command's, else the environment variable). Before: ``checkpoint --timestamp-url`` went
direct whatever the proxy, and there was no global ``--proxy``. Real sockets on loopback:
a canary stands where the request would go direct, the proxy port is dead (fail closed)
or a real SOCKS5 proxy that records what it relays."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_world import cli_run, one_error_line, seed
from net_servers import Site, canary, closed_port, json_answer, sites, socks5_proxy
from unerased.store import Store


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    st = Store.open(home)
    try:
        seed(st)
    finally:
        st.close()
    return home


@pytest.mark.parametrize("how", ["checkpoint --proxy", "global --proxy", "UNERASED_PROXY",
                                 "global env", "checkpoint over global"])
def test_the_timestamp_never_goes_direct(archive: Path, how: str) -> None:
    dead = f"socks5h://127.0.0.1:{closed_port()}"
    target = canary("127.0.0.2")
    with sites(target):
        url = target.url("/tsa")
        env: dict[str, str] = {}
        if how == "checkpoint --proxy":
            args = ["checkpoint", "--timestamp-url", url, "--proxy", dead]
        elif how == "global --proxy":
            args = ["--proxy", dead, "checkpoint", "--timestamp-url", url]
        elif how == "UNERASED_PROXY":
            args, env = ["checkpoint", "--timestamp-url", url], {"UNERASED_PROXY": dead}
        elif how == "global env":  # the value 'env' asks for the environment's proxy
            args = ["--proxy", "env", "checkpoint", "--timestamp-url", url]
            env = {"ALL_PROXY": dead}
        else:  # the command's own --proxy wins: the global one (the canary) is not used
            args = ["--proxy", f"http://127.0.0.2:{target.port}", "checkpoint",
                    "--timestamp-url", url, "--proxy", dead]
        r = cli_run(archive, None, *args, env=env)
        line = one_error_line(r, 1)
        assert "cannot be reached" in line
    assert target.connections == 0  # not one direct connection


def test_the_timestamp_goes_through_the_given_proxy(archive: Path) -> None:
    tsa = Site("127.0.0.1", {"/tsa": lambda s: json_answer(200, {"not": "a timestamp"})})
    with sites(tsa), socks5_proxy(hosts={"tsa.example": "127.0.0.1"}) as proxy:
        r = cli_run(archive, None, "--proxy", f"socks5h://127.0.0.1:{proxy.port}",
                    "checkpoint", "--timestamp-url", f"http://tsa.example:{tsa.port}/tsa")
        line = one_error_line(r, 1)
        assert "rejected" in line  # it answered, through the proxy: not a timestamp
    assert [(x.host, x.kind) for x in proxy.relayed] == [("tsa.example", "domain")]


def test_the_global_proxy_reaches_the_collector(tmp_path: Path) -> None:
    """``unerased --proxy URL watch add …``: the global option is the command's proxy for
    the collector too (the runner's own per-watch proxies come on top)."""
    dead = f"socks5h://127.0.0.1:{closed_port()}"
    target = canary("127.0.0.2")
    with sites(target):
        r = cli_run(tmp_path / "home", None, "--proxy", dead, "watch", "add",
                    "mastodon:@alice@social.example", "--service", target.base)
        one_error_line(r, 1)
    assert target.connections == 0
