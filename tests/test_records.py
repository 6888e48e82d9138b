"""Serialisations on the import's hot path. The hand-written leaf record of a post
version is byte for byte the generic canonical JSON of the record (otherwise every
imported leaf would fail ``verify``); a post's raw JSON goes through orjson, and through
``json`` for what orjson refuses."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from unerased._prepare import raw_json
from unerased.ledger import records as rec
from unerased.model import canonical_json

# any text: lone surrogates, quotes, backslashes and control characters included
text = st.text(alphabet=st.characters(), max_size=40)
opt_text = st.none() | text
POST_KEYS = ("platform", "post_id", "url", "created_at", "kind", "reply_to", "repost_of",
             "quote_of")


@settings(max_examples=400)
@given(
    post=st.fixed_dictionaries({k: opt_text for k in POST_KEYS}),
    account_id=opt_text,
    version=st.fixed_dictionaries({
        "id": st.integers(1, 2**62), "seq": st.integers(1, 10**6), "version_key": text,
        "content_hash": text, "text": text, "html": opt_text, "lang": opt_text,
        "edited_at": opt_text, "observed_at": text, "source": text,
        "raw_json": st.none() | st.text(max_size=40),
    }),
)
def test_fast_version_json_is_the_canonical_record(
    post: dict[str, Any], account_id: str | None, version: dict[str, Any]
) -> None:
    account = {"account_id": account_id}
    want = canonical_json(rec.post_version_record(version, post, account, []))
    assert rec.post_version_json(version, post, account) == want
    raw = version["raw_json"]
    if raw is not None:  # the raw JSON's digest handed in by the import's reader
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()
        assert rec.post_version_json(version, post, account, digest) == want


@settings(max_examples=200)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters()),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids,
                                                            max_size=4),
    max_leaves=12,
))
@example({"t": "half \ud83d emoji", "n": 1 << 70})  # always tried: both orjson refusals
def test_raw_json_round_trips(value: Any) -> None:
    """Lone surrogates and integers past 64 bits included (orjson refuses both)."""
    import json

    text = raw_json(value)
    assert json.loads(text) == value
    text.encode("utf-8")  # storable in a UTF-8 column: a lone surrogate stays escaped
    # the same compact text json would write (no floats here: their spelling may differ),
    # with every non-ASCII character escaped when a lone surrogate is among them
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        plain.encode("utf-8")
    except UnicodeEncodeError:
        plain = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    assert text == plain
