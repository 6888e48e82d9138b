"""The demo's live view (rich): what the collector detects, as it detects it.

- a deletion: the account, its province, when the post was written and when it was
  found gone, and **the erased text** as the archive kept it;
- a mass deletion (an account whose posts vanish together: at least
  :data:`MASS_MIN` found gone in one check, or flagged so by detection): **one line**
  (the posts of it confirmed in later checks add none);
- an account closed (suspended, deactivated, deleted): one line with its province;
- an edit: the text before and after;
- a **ticker** between events: simulated time, checks made, posts archived, deletions
  and closures seen (on a terminal it stays at the bottom and updates in place);
- at the end a **summary** scored against the campaign's ground truth
  (:mod:`unerased.sim.score`): by province, accounts closed and posts deleted, the
  share of deleted posts archived before their deletion, the median detection delay.

Every text a platform controls goes through :func:`unerased.text.terminal.for_terminal`
and into rich as plain :class:`rich.text.Text` (never markup).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..model import parse_iso
from ..store import Store
from ..text.terminal import for_terminal
from .campaign import Campaign
from .demo import DemoResult, Round
from .score import CLOSURE_EVENTS, fmt_delay

__all__ = ["MASS_MIN", "LiveView"]

MASS_MIN = 5  # posts of one account found gone in one check: one "mass deletion" line


def _t(value: object, limit: int = 0) -> str:
    s = for_terminal("" if value is None else str(value), keep_newlines=False)
    return s if not limit or len(s) <= limit else s[: limit - 1] + "…"


def _hm(iso_or_dt: str | datetime | None) -> str:
    dt = parse_iso(iso_or_dt) if isinstance(iso_or_dt, str) or iso_or_dt is None else iso_or_dt
    return dt.strftime("%d %H:%M") if dt else "?"


def _user(e: dict[str, Any]) -> str:
    return str(e.get("account") or e.get("account_id") or "?").split("@")[0]


class LiveView:
    """Shows a demo run on ``console`` (``events=False``: the ticker and the summary only,
    for ``--json`` where the events go to stdout as JSON lines)."""

    def __init__(self, console: Console, *, events: bool = True) -> None:
        self.console = console
        self.events = events
        self.live: Live | None = None
        self.store: Store | None = None
        self.province: dict[str, str] = {}
        self.rate = 0.0
        self.deleted = self.closed = self.edited = 0
        self.mass = 0
        self._mass_shown: set[str] = set()  # accounts whose mass deletion has its line
        self._last_ticker = ""

    # ------------------------------------------------------------------ lifecycle

    def begin(self, campaign: Campaign, store: Store, rate: float) -> None:
        self.store, self.rate = store, rate
        for row in store.list_accounts(watched_only=True):
            tags = store.account_json(row)["tags"]
            self.province[str(row["handle"]).split("@")[0]] = tags.get("province", "?")
        hours = (campaign.end - campaign.start).total_seconds() / 3600
        self.console.print(Text(
            f"A censorship campaign on a simulated platform: {len(campaign.accounts)} accounts "
            f"in {len(set(self.province.values()))} provinces, {hours:g} simulated hours "
            f"({rate:,.0f}x real time); at {_hm(campaign.sweep_at)} a sweep closes the "
            f"accounts of {' and '.join(campaign.swept)}.", style="bold"))
        self.console.print(Text(
            "Answers are flaky (timeouts, 5xx, 429, omissions): none of that may raise a "
            "false alarm. Watching every account with the collector's poll…", style="dim"))
        if self.console.is_terminal:
            self.live = Live(Text(""), console=self.console, refresh_per_second=8,
                             transient=True)
            self.live.start()

    def end(self, result: DemoResult) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        ticker = self._ticker(result)
        if ticker.plain != self._last_ticker:
            self._print(ticker)
        self.summary(result)

    # ------------------------------------------------------------------ rounds

    def _print(self, r: Text) -> None:
        (self.live.console if self.live else self.console).print(r)

    def _ticker(self, result: DemoResult) -> Text:
        archived = 0
        if self.store is not None:
            archived = sum(self.store.account_json(r)["posts"]
                           for r in self.store.list_accounts(watched_only=True))
        c = result.campaign
        line = (f"── {_hm(c.start + result.covered)} (simulated, +{fmt_delay(result.covered.total_seconds())})"
                f" · {len(c.accounts)} accounts watched, {result.checks} checks"
                f" · {archived} posts archived · {self.deleted} deletions seen"
                f" ({self.mass} mass) · {self.closed} accounts closed ──")
        return Text(line, style="cyan")

    def show(self, rnd: Round, result: DemoResult) -> None:
        lines: list[Text] = []
        for o in rnd.outcomes:
            gone: list[dict[str, Any]] = []
            for e in o.events:
                if e["type"] == "post_deleted":
                    gone.append(e)
                elif e["type"] in CLOSURE_EVENTS:
                    self.closed += 1
                    lines.append(self._closure(e))
                elif e["type"] == "post_edited":
                    self.edited += 1
                    lines.append(self._edit(e))
                else:
                    lines.append(Text(f"  {_hm(e['at'])}  {_t(e['type'])}  @{_t(_user(e))}",
                                      style="yellow"))
            self.deleted += len(gone)
            by_acc: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for e in gone:
                by_acc[_user(e)].append(e)
            for user, es in by_acc.items():
                flagged = [e["detail"]["mass_deletion"] for e in es
                           if e["detail"].get("mass_deletion")]
                if flagged and user in self._mass_shown:
                    continue  # stragglers of a mass deletion already shown: no new line
                if len(es) >= MASS_MIN or flagged:
                    self.mass += 1
                    self._mass_shown.add(user)
                    n = max([len(es)] + [int(m.get("count", 0)) for m in flagged])
                    lines.append(self._mass(user, es, n))
                else:
                    lines.extend(self._deletion(e) for e in es)
        if self.live is not None:
            if self.events:
                for line in lines:
                    self.live.console.print(line)
            self.live.update(self._ticker(result))
        elif lines and self.events:
            ticker = self._ticker(result)
            self._last_ticker = ticker.plain
            self.console.print(ticker)
            for line in lines:
                self.console.print(line)

    # ------------------------------------------------------------------ lines

    def _text_of(self, post_id: str | None) -> tuple[str, str | None]:
        """The archived text of a post (its last version) and when it was written."""
        post = self.store.get_post(post_id) if self.store and post_id else None
        if not post:
            return "(not archived)", None
        return str(post["text"]), post["created_at"]

    def _who(self, user: str) -> str:
        return f"@{_t(user)} · {_t(self.province.get(user, '?'))}"

    def _deletion(self, e: dict[str, Any]) -> Text:
        text, written = self._text_of(e.get("post_id"))
        out = Text(f"  {_hm(e['at'])}  ✗ DELETED  ", style="bold red")
        out.append(f"{self._who(_user(e))} · written {_hm(written)} — ", style="red")
        out.append(f"«{_t(text, 90)}»")
        return out

    def _mass(self, user: str, es: list[dict[str, Any]], n: int) -> Text:
        text, _ = self._text_of(es[0].get("post_id"))
        out = Text(f"  {_hm(es[0]['at'])}  ✗✗ MASS DELETION  ", style="bold white on red")
        out.append(f" {self._who(user)}: {n} posts erased at once — e.g. ", style="red")
        out.append(f"«{_t(text, 60)}»")
        return out

    def _closure(self, e: dict[str, Any]) -> Text:
        kind = str(e["type"]).removeprefix("account_")
        out = Text(f"  {_hm(e['at'])}  ⛔ ACCOUNT CLOSED  ", style="bold magenta")
        out.append(f"{self._who(_user(e))} · {_t(kind)}", style="magenta")
        return out

    def _edit(self, e: dict[str, Any]) -> Text:
        post = self.store.get_post(e["post_id"]) if self.store and e.get("post_id") else None
        vs = post["versions"] if post else []
        before = vs[-2]["text"] if len(vs) >= 2 else "?"
        after = vs[-1]["text"] if vs else "?"
        out = Text(f"  {_hm(e['at'])}  ✎ EDITED  ", style="bold yellow")
        out.append(f"{self._who(_user(e))} — ", style="yellow")
        out.append(f"«{_t(before, 50)}» → «{_t(after, 50)}»")
        return out

    # ------------------------------------------------------------------ summary

    def summary(self, result: DemoResult) -> None:
        s = result.score
        c = result.campaign
        if s is None:
            return
        table = Table(title="By province: accounts closed (and seen closed); posts deleted "
                            "(archived before, seen deleted)", title_justify="left")
        for col in ("province", "closed", "seen", "deleted", "archived first", "seen"):
            table.add_column(col, justify="left" if col == "province" else "right")
        for prov, t in s.by_province.items():
            table.add_row(Text(prov + (" (swept)" if prov in c.swept else "")),
                          str(t["closed"]), str(t["closed_detected"]), str(t["deleted"]),
                          str(t["archived_before_deletion"]), str(t["detected"]))
        self.console.print(table)
        share = "-" if s.share_archived is None else f"{100 * s.share_archived:.1f} %"
        self.console.print(Text(
            f"Simulated {fmt_delay(result.covered.total_seconds())} in {result.wall:.1f} s "
            f"of wall time: {result.rounds} rounds, {result.checks} checks "
            f"({result.failed_checks} failed on flaky answers), {result.requests} requests.",
            style="bold"))
        self.console.print(Text(
            f"Deleted posts archived before their deletion: {s.archived_before} of "
            f"{s.deleted} ({share}); reported gone: {s.detected} "
            f"({s.detected_via_closure} through their account's closure); median delay from "
            f"deletion to detection: {fmt_delay(s.median_delay)}.", style="bold"))
        self.console.print(Text(
            f"Accounts closed: {s.closed}, reported: {s.closed_detected}, median delay "
            f"{fmt_delay(s.median_closure_delay)}; false alarms: {s.false_alarms}.",
            style="bold"))
