"""The fast path of index_terms (ASCII + common Han + common punctuation) must give
exactly the terms of the general scanner."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from unerased.text.tokenize import _FAST_OK, _FAST_PUNCT, _index_terms_general, index_terms

FAST_ALPHABET = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x7F),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FEF),
    st.characters(min_codepoint=0x3400, max_codepoint=0x4DBF),
    st.sampled_from(_FAST_PUNCT),
)


@settings(max_examples=800)
@given(st.text(FAST_ALPHABET, max_size=60))
def test_fast_path_equals_general_scanner(text: str) -> None:
    assert _FAST_OK.fullmatch(text)
    assert index_terms(text) == _index_terms_general(text)


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_any_text_same_as_general(text: str) -> None:
    assert index_terms(text) == _index_terms_general(text)


def test_examples() -> None:
    for t in ["我们删除了推特 Twitter!", "警察要求：删除账号。", "RT @wu_gan: 审查…https://t.co/x",
              "Ｔｗｉｔｔｅｒ", "café 删除", "abc_def 123"]:
        assert index_terms(t) == _index_terms_general(t)
    assert index_terms("删除了推特") == "删除 除了 了推 推特 特"


def test_matches_all_phrases_prefix_and_exclusion() -> None:
    from unerased.text.tokenize import matches

    assert matches("警察要求我们删除推特账号", "删除 推特")
    assert not matches("警察要求我们删除账号", "删除 推特")
    assert matches("警察要求我们删除推特账号", "删")  # one character: a prefix term
    assert matches("Twitter blocked", "twitter")
    assert not matches("删除推特", "删除 -推特")
    assert not matches("anything", "🙂")
