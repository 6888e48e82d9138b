"""``unerased status``: the collector's health, read only (from another machine too)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ._context import Context, UserError, emit_json, handle_errors, json_option, pass_ctx, term

__all__ = ["status"]

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any, Any]
else:
    _ParamType = click.ParamType


class Duration(_ParamType):
    """``90s``, ``15m``, ``2h``, ``1d`` or a number of seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        from ..config import parse_duration
        from ..errors import UsageError

        try:
            return parse_duration(value, "")
        except UsageError as e:
            self.fail(str(e).removeprefix(": "), param, ctx)


@click.command("status")
@click.option("--stale-after", "stale_after", type=Duration(), metavar="DURATION",
              help="Exit 1 when no collector has checked anything within DURATION "
                   "(e.g. 30m): the dead-man check, from any machine.")
@click.option("--errors", "n_errors", type=click.IntRange(0, 1000), default=10,
              show_default=True, help="How many of the latest check errors to show.")
@json_option
@pass_ctx
@handle_errors
def status(c: Context, stale_after: float | None, n_errors: int, as_json: bool) -> None:
    """The collector's health: accounts watched, due and overdue, the latest errors,
    collectors alive or stale, budgets per host, streams, the alert outbox. Reads only."""
    from ..config import format_duration, load
    from ..health import last_checked, status_report
    from ..model import iso, utcnow

    settings = load(c.home)
    now = utcnow()
    rep = status_report(c.store, now, interval_s=float(settings["schedule.interval"]),
                        heartbeat_s=float(settings["heartbeat.interval"]), errors=n_errors)
    last = last_checked(rep)
    if as_json:
        emit_json([rep])
    else:
        _show(rep)
    if stale_after is not None and (last is None or (now - last).total_seconds() > stale_after):
        since = f"since {iso(last)}" if last else "ever"
        raise UserError(f"no collector has checked anything within "
                        f"{format_duration(stale_after)} (last check: {since})")


def _show(rep: dict[str, Any]) -> None:
    a = rep["accounts"]
    click.echo(f"accounts: {a['watched']} watched, {a['due']} due, {a['overdue']} overdue, "
               f"{a['claimed']} being checked; last check {term(rep['last_check_at'] or 'never')}")
    for col in rep["collectors"]:
        click.echo(f"collector {term(col['collector'])}: {term(col['state'])}, beat "
                   f"{term(col['at'])}, {col['checks'] or 0} checks, {col['errors'] or 0} "
                   f"errors, {col['on_time'] or 0} of {col['due_checks'] or 0} on time, "
                   f"last check {term(col['last_check_at'] or 'never')}")
    if not rep["collectors"]:
        click.echo("collectors: none has run on this archive")
    for host, b in sorted(rep["budgets"].items()):
        blocked = f", blocked until {term(b['blocked_until'])}" if b.get("blocked_until") else ""
        click.echo(f"budget {term(host)}: {b.get('spent')} spent, {b.get('remaining')} of "
                   f"{b.get('limit')} left{blocked}")
    for name, st in sorted(rep["streams"].items()):
        lag = st.get("lag_s")
        click.echo(f"stream {term(name)}: {'connected' if st.get('connected') else 'not connected'}"
                   f"{'' if lag is None else f', lag {lag:.0f}s'}")
    if rep["alerts"] is not None:
        click.echo("alerts: " + ", ".join(f"{k} {term(v)}" for k, v in sorted(rep["alerts"].items())
                                          if v is not None))
    for e in rep["errors"]:
        click.echo(f"error {term(e['at'] or '')} {term(e['account'])}: {term(e['error'])}")
