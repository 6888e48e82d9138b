"""``unerased config [KEY [VALUE]]``: show or set the home's settings (HOME/config.toml)."""

from __future__ import annotations

import json

import click

from ._context import BadUsage, Context, emit_json, handle_errors, json_option, pass_ctx, term

__all__ = ["config"]


def _text(v: object) -> str:
    if v is None:
        return "(not set)"
    if isinstance(v, bool):
        return "true" if v else "false"
    return term(v)


@click.command("config")
@click.argument("key", required=False)
@click.argument("value", required=False)
@json_option
@pass_ctx
@handle_errors
def config(c: Context, key: str | None, value: str | None, as_json: bool) -> None:
    """Show every setting, show one (KEY), or set one (KEY VALUE; the value `default`
    removes it). Settings live in HOME/config.toml (owner-only)."""
    from .. import config as cfg
    from ..errors import UsageError

    settings = cfg.load(c.home)
    if key is not None and value is not None:
        try:
            new = cfg.set_value(settings, key, value)
        except UsageError as e:
            raise BadUsage(str(e)) from None
        path = cfg.save(c.home, new)
        shown = cfg.shown(key, new[key])
        if as_json:
            emit_json([{"key": key, "value": shown, "set": key in new.values}])
        else:
            click.echo(f"{term(key)} = {_text(shown)}  ({term(path)})", err=True)
        return
    if key is not None:
        try:
            got = [(key, settings[key], key in settings.values)]
        except UsageError as e:
            raise BadUsage(str(e)) from None
    else:
        got = settings.items()
    if as_json:
        emit_json({"key": k, "value": cfg.shown(k, v), "set": was_set} for k, v, was_set in got)
        return
    for k, v, was_set in got:
        sv = cfg.shown(k, v)
        text = json.dumps(sv) if isinstance(sv, str) and key is None else _text(sv)
        click.echo(f"{term(k)} = {term(text) if key is None else text}"
                   f"{'' if was_set or key is not None else '  # default'}")
