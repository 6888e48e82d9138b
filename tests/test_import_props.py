"""Property: import → export → re-import → export is stable, for archives of every
shape the generator makes (both layouts, multi-part, edits, deletions, media)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unerased.export import run_export
from unerased.ingest import import_archive
from unerased.sim.archives import make_twitter_archive
from unerased.store import Store


def export_lines(store: Store, out: Path) -> list[dict[str, object]]:
    run_export(store, "jsonl", out)
    return [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=120),
    seed=st.integers(min_value=0, max_value=10_000),
    cjk=st.sampled_from([0.0, 0.5, 1.0]),
    parts=st.integers(min_value=1, max_value=3),
    old=st.booleans(),
)
def test_import_export_reimport_is_stable(n: int, seed: int, cjk: float, parts: int,
                                          old: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        spec = make_twitter_archive(tmp / "a.zip", n_tweets=n, seed=seed, cjk_ratio=cjk,
                                    parts=parts, old_layout=old, edits_every=7,
                                    media_every=11)
        store = Store.open(tmp / "home")
        try:
            first = import_archive(store, "twitter-archive", tmp / "a.zip")
            one = export_lines(store, tmp / "1.jsonl")
            again = import_archive(store, "twitter-archive", tmp / "a.zip")
            two = export_lines(store, tmp / "2.jsonl")
        finally:
            store.close()
        assert one == two
        assert again.new_posts == 0 and again.new_versions == 0
        assert first.new_posts == len(one) == spec.n_posts
        # every edit chain is one post whose versions are the chain, in order
        by_id = {p["post_id"]: p for p in one}
        for pid in spec.edit_chains:
            post = by_id[pid]
            chain = spec.posts[pid].version_ids
            assert [v["version_key"] for v in post["versions"]] == list(chain)
        for pid in spec.deleted_ids:
            assert by_id[pid]["status"] == "deleted"
