"""The pages' pure helpers: server-side SVG charts (web/_charts.py) and the word-level
diff that handles Chinese (web/_diff.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from unerased.web._charts import bar_chart, line_chart
from unerased.web._diff import diff_html, diff_ops, tokens

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
SVG = "{http://www.w3.org/2000/svg}"


def _parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def test_bar_chart_draws_one_bar_per_value_longest_for_the_largest() -> None:
    svg = bar_chart([("福建", 4), ("广东", 2), ("none", 0)], title="closures")
    root = _parsed(svg)
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 3
    widths = [float(b.attrib["width"]) for b in bars]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    assert [b.find(f"{SVG}title").text for b in bars] == ["福建: 4", "广东: 2", "none: 0"]  # type: ignore[union-attr]
    assert root.find(f"{SVG}title").text == "closures"  # type: ignore[union-attr]


def test_line_chart_draws_one_line_per_series_and_a_point_per_nonzero_value() -> None:
    svg = line_chart(["2026-03-01", "2026-03-02", "2026-03-03"],
                     {"post_deleted": [1, 0, 3], "account_suspended": [0, 2, 0]}, title="t")
    root = _parsed(svg)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert len(lines[0].attrib["points"].split()) == 3
    points = [c.find(f"{SVG}title").text for c in root.findall(f"{SVG}circle")]  # type: ignore[union-attr]
    assert points == ["post_deleted 2026-03-01: 1", "post_deleted 2026-03-03: 3",
                      "account_suspended 2026-03-02: 2"]
    # the highest value is at the top of the plot, zero on the axis
    ys = [float(p.split(",")[1]) for p in lines[0].attrib["points"].split()]
    assert ys[2] < ys[0] < ys[1]


def test_empty_charts_say_so() -> None:
    for svg in (bar_chart([], title="x"), line_chart([], {}, title="x")):
        assert "no data" in svg and _parsed(svg) is not None


def test_chart_labels_are_escaped_and_nothing_can_run() -> None:
    for svg in (bar_chart([(XSS, 1)], title=XSS),
                line_chart([XSS, XSS], {XSS: [1, 2]}, title=XSS)):
        root = _parsed(svg)  # still well-formed: no label broke out
        assert "<script" not in svg and "<img" not in svg
        for el in root.iter():
            assert el.tag.removeprefix(SVG) in {"svg", "title", "text", "rect", "line",
                                                "polyline", "circle"}
            assert not any(k.lower().startswith("on") or k == "style" for k in el.attrib)
        assert any(XSS in (el.text or "") for el in root.iter())  # the text kept, inert


def test_tokens_split_latin_words_cjk_characters_and_punctuation() -> None:
    assert tokens("我们删除了推特, hello world!") == [
        "我", "们", "删", "除", "了", "推", "特", ",", " ", "hello", " ", "world", "!"]
    assert tokens("café naïve 東京タワー 서울") == [
        "café", " ", "naïve", " ", "東", "京", "タ", "ワ", "ー", " ", "서", "울"]


@given(st.text(max_size=60))
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(tokens(text)) == text


@given(st.text(max_size=40), st.text(max_size=40))
def test_diff_ops_rebuild_both_versions(old: str, new: str) -> None:
    ops = diff_ops(old, new)
    assert "".join(t for op, t in ops if op != "ins") == old
    assert "".join(t for op, t in ops if op != "del") == new


def test_a_chinese_edit_marks_only_the_changed_characters() -> None:
    html = str(diff_html("我们删除了推特", "我们删掉了推特"))
    assert html == "我们删<del>除</del><ins>掉</ins>了推特"
    html = str(diff_html("the quick fox", "the slow fox"))
    assert html == "the <del>quick</del><ins>slow</ins> fox"


def test_the_diff_is_escaped() -> None:
    html = str(diff_html("safe", "safe " + XSS))
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert re.fullmatch(r"safe<ins>.*</ins>", html, re.S)


def test_snippet_matches_become_marks() -> None:
    from unerased.text.tokenize import snippet
    from unerased.web._highlight import snippet_pieces

    got = snippet_pieces(snippet("a needle, NEEDLE and 我们删除了推特", "needle 删除"))
    assert got == [("", "a "), ("mark", "needle"), ("", ", "), ("mark", "NEEDLE"),
                   ("", " and 我们"), ("mark", "删除"), ("", "了推特")]
    assert snippet_pieces("no match") == [("", "no match")]
    assert snippet_pieces("") == [] and snippet_pieces("[]x[") == [("", "[]x[")]


@given(st.text(max_size=60))
def test_snippet_pieces_keep_the_text(text: str) -> None:
    from unerased.web._highlight import snippet_pieces

    got = snippet_pieces(text)
    rebuilt = "".join(f"[{p}]" if kind == "mark" else p for kind, p in got)
    assert rebuilt == text
