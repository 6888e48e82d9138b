"""C2SP signed notes and tlog checkpoints, with Go's golang.org/x/mod/sumdb/note vectors."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unerased.ledger.merkle import MemoryTree
from unerased.ledger.note import (
    Checkpoint,
    NoteError,
    SignerKey,
    generate_signer,
    key_id,
    open_note,
    parse_signer,
    parse_verifier,
    sign_note,
    verifier_from_signer,
)

# ---- vectors from golang.org/x/mod/sumdb/note/note_test.go (BSD-3-Clause, The Go Authors)
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"


def _bsplice(s: str, at: int, insert: str) -> str:
    """Go's s[:at] + insert + s[at:] on UTF-8 bytes (the em dash is 3 bytes)."""
    b = s.encode("utf-8")
    return (b[:at] + insert.encode("utf-8") + b[at:]).decode("utf-8")


def test_go_verifier_key() -> None:
    v = parse_verifier(PETER_VKEY)
    assert (v.name, v.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert str(v) == PETER_VKEY
    assert key_id(v.name, v.public_key) == 0xC74F20A3


def test_go_verifier_key_manglings_rejected() -> None:
    b = PETER_VKEY
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(NoteError):
                    parse_verifier(b[i:j])
    for i in range(len(b)):
        with pytest.raises(NoteError):
            parse_verifier(b[:i] + chr(ord(b[i]) + 1) + b[i + 1 :])
    with pytest.raises(NoteError, match="32 bytes"):  # wrong length key, with adjusted key hash
        parse_verifier("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(NoteError, match="algorithm"):  # unknown algorithm, with adjusted key hash
        parse_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_go_signer_key() -> None:
    s = parse_signer(PETER_SKEY)
    assert (s.name, s.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert str(s) == PETER_SKEY
    assert "AYEK" not in repr(s)  # the secret never shows in a repr
    assert verifier_from_signer(PETER_SKEY) == PETER_VKEY
    b = PETER_SKEY
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(NoteError):
                    parse_signer(b[i:j])
    for i in range(len(b)):
        with pytest.raises(NoteError):
            parse_signer(b[:i] + chr(ord(b[i]) + 1) + b[i + 1 :])


def test_go_sign_exact_output() -> None:
    assert sign_note(TEXT, PETER_SKEY) == TEXT + "\n" + PETER_SIG
    with pytest.raises(NoteError, match="newline"):
        sign_note("abc", PETER_SKEY)


def test_go_open() -> None:
    # one signature verified, the other (unknown key) ignored
    assert open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, PETER_VKEY) == TEXT
    assert open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, ENOCH_VKEY) == TEXT
    assert open_note((TEXT + "\n" + ENOCH_SIG).encode(), ENOCH_VKEY) == TEXT
    # only unknown keys: rejected
    with pytest.raises(NoteError, match="no signature by key PeterNeumann"):
        open_note(TEXT + "\n" + ENOCH_SIG, PETER_VKEY)
    # duplicated signatures are dropped, as in Go
    dup = PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + _bsplice(ENOCH_SIG, 60, "ABCD")
    assert open_note(TEXT + "\n" + dup, PETER_VKEY) == TEXT
    # too many signatures
    with pytest.raises(NoteError, match="more than 100"):
        open_note(TEXT + "\n" + PETER_SIG * 101, PETER_VKEY)
    # a known key whose signature does not verify
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        open_note(TEXT + "\n" + _bsplice(PETER_SIG, 60, "ABCD"), PETER_VKEY)
    # wrong name or key hash: not our key, so no signature by it
    for sig in (
        PETER_SIG.replace("PeterNeumann", "CarmenSandiego"),
        PETER_SIG.replace("x08g", "xxxx"),
    ):
        with pytest.raises(NoteError, match="no signature"):
            open_note(TEXT + "\n" + sig, PETER_VKEY)


@pytest.mark.parametrize(
    "msg",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        "\udcff" + TEXT + "\n" + PETER_SIG,  # Go: "\xff" (invalid UTF-8), here a lone surrogate
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ],
)
def test_go_bad_messages(msg: str) -> None:
    with pytest.raises(NoteError, match="malformed note"):
        open_note(msg, PETER_VKEY)


def test_invalid_utf8_bytes() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), PETER_VKEY)


# --------------------------------------------------------------------------- own keys


def test_generate_round_trip() -> None:
    skey = generate_signer("unerased.example/log")
    vkey = verifier_from_signer(skey)
    s, v = parse_signer(skey), parse_verifier(vkey)
    assert s.name == v.name == "unerased.example/log"
    assert s.key_id == v.key_id
    # key ID = SHA-256(name || 0x0A || 0x01 || pubkey)[:4]
    digest = hashlib.sha256(b"unerased.example/log\n\x01" + v.public_key).digest()
    assert v.key_id == int.from_bytes(digest[:4], "big")
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == 1
    note = sign_note("hello\nworld\n", skey)
    assert open_note(note, vkey) == "hello\nworld\n"
    assert generate_signer("x") != generate_signer("x")


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "nl\n", "nbsp\u00a0x", "\u2003em"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(NoteError):
        generate_signer(name)


def test_wrong_key_rejected() -> None:
    skey = generate_signer("log.example")
    note = sign_note("text\n", skey)
    other = verifier_from_signer(generate_signer("log.example"))  # same name, other key
    with pytest.raises(NoteError, match="no signature"):
        open_note(note, other)
    with pytest.raises(NoteError, match="no signature"):
        open_note(note, PETER_VKEY)
    with pytest.raises(NoteError):
        open_note(note, skey)  # a signer key is not a verifier key
    with pytest.raises(NoteError):
        open_note(note, "garbage")


def test_text_with_blank_lines_and_unicode() -> None:
    skey = generate_signer("n")
    text = "审查\n\nline after blank\n"
    assert open_note(sign_note(text, skey), verifier_from_signer(skey)) == text
    with pytest.raises(NoteError, match="control"):
        sign_note("a\tb\n", skey)


def test_every_single_character_mutation_is_rejected() -> None:
    skey = generate_signer("log.example/m")
    vkey = verifier_from_signer(skey)
    note = Checkpoint("log.example/m", 5, bytes(range(32))).sign(skey)
    for i, c in enumerate(note):
        for repl in {chr(ord(c) + 1), chr(ord(c) ^ 0x20) if ord(c) > 0x20 else "x", ""}:
            mutated = note[:i] + repl + note[i + 1 :]
            with pytest.raises(NoteError):
                open_note(mutated, vkey)
    for cut in range(len(note)):
        with pytest.raises(NoteError):
            open_note(note[:cut], vkey)


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=80), data=st.data())
def test_sign_open_property(text: str, data: st.DataObject) -> None:
    skey = parse_signer(PETER_SKEY)
    body = text + "\n"
    note = sign_note(body, str(skey))
    assert open_note(note, PETER_VKEY) == body
    pos = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    ch = data.draw(st.characters(codec="utf-8"))
    if ch != body[pos]:
        with pytest.raises(NoteError):
            open_note(note[:pos] + ch + note[pos + 1 :], PETER_VKEY)


def test_signer_key_object() -> None:
    s = parse_signer(PETER_SKEY)
    assert isinstance(s, SignerKey)
    assert str(s.verifier()) == PETER_VKEY


# --------------------------------------------------------------------------- checkpoints

SPEC_EXAMPLE = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def test_checkpoint_spec_example() -> None:
    cp = Checkpoint.parse(SPEC_EXAMPLE)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.to_text() == SPEC_EXAMPLE


def test_checkpoint_round_trip_and_signing() -> None:
    tree = MemoryTree.from_leaves([b"a", b"b", b"c"])
    cp = Checkpoint("unerased.example/log", tree.size, tree.root(), ("ext one", "x"))
    text = cp.to_text()
    assert text.count("\n") == 5 and text.endswith("x\n")
    assert Checkpoint.parse(text) == cp
    skey = generate_signer("unerased.example/log")
    signed = cp.sign(skey)
    assert Checkpoint.open(signed, verifier_from_signer(skey)) == cp
    assert Checkpoint.parse(open_note(signed, verifier_from_signer(skey))) == cp
    empty = Checkpoint("o", 0, MemoryTree().root())
    assert Checkpoint.parse(empty.to_text()) == empty
    assert empty.to_text().split("\n")[1] == "0"
    assert Checkpoint("o", 1, bytes(32), ["list", "ok"]).extensions == ("list", "ok")  # type: ignore[arg-type]


ROOT = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("o\n1\n" + ROOT, "newline"),
        ("o\n1\n", "lines"),
        ("", "newline"),
        ("\n1\n" + ROOT + "\n", "origin"),
        ("o\n01\n" + ROOT + "\n", "decimal"),
        ("o\n00\n" + ROOT + "\n", "decimal"),
        ("o\n+1\n" + ROOT + "\n", "decimal"),
        ("o\n-1\n" + ROOT + "\n", "decimal"),
        ("o\n 1\n" + ROOT + "\n", "decimal"),
        ("o\n1 \n" + ROOT + "\n", "decimal"),
        ("o\n\n" + ROOT + "\n", "decimal"),
        ("o\n１\n" + ROOT + "\n", "decimal"),  # fullwidth digit
        ("o\n1e3\n" + ROOT + "\n", "decimal"),
        ("o\n18446744073709551616\n" + ROOT + "\n", "64 bits"),
        ("o\n1\n" + ROOT[:-1] + "\n", "base64"),
        ("o\n1\n" + ROOT + " \n", "base64"),
        ("o\n1\n" + ROOT.replace("AAA=", "AAB=") + "\n", "canonical"),
        ("o\n1\n" + base64.b64encode(bytes(31)).decode() + "\n", "31 bytes"),
        ("o\n1\n" + base64.b64encode(bytes(33)).decode() + "\n", "33 bytes"),
        ("o\n1\n" + ROOT + "\n\n", "empty"),
        ("o\n1\n" + ROOT + "\next\n\nmore\n", "empty"),
        ("o\x00\n1\n" + ROOT + "\n", "control"),
        ("o\n1\r\n" + ROOT + "\n", "control"),
    ],
)
def test_checkpoint_strict_parse(text: str, why: str) -> None:
    with pytest.raises(NoteError, match=why):
        Checkpoint.parse(text)


def test_checkpoint_max_size_and_bad_fields() -> None:
    big = Checkpoint("o", 2**64 - 1, bytes(32))
    assert Checkpoint.parse(big.to_text()).size == 2**64 - 1
    for args in [
        ("", 1, bytes(32)),
        ("a\nb", 1, bytes(32)),
        ("o", -1, bytes(32)),
        ("o", 2**64, bytes(32)),
        ("o", True, bytes(32)),
        ("o", 1, bytes(31)),
        ("o", 1, "0" * 32),
    ]:
        with pytest.raises(NoteError):
            Checkpoint(*args)  # type: ignore[arg-type]
    for ext in [("",), ("a\nb",), ("ok", "\x07")]:
        with pytest.raises(NoteError):
            Checkpoint("o", 1, bytes(32), ext)


def test_checkpoint_signed_by_other_key_rejected() -> None:
    cp = Checkpoint("log", 3, bytes(32))
    signed = cp.sign(generate_signer("log"))
    with pytest.raises(NoteError):
        Checkpoint.open(signed, verifier_from_signer(generate_signer("log")))
