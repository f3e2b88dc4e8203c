"""Text vs binary for files that are not UTF-8: an 8-bit text is text (lossy), however short.

Binary is a NUL byte in the first 8 KiB, or more than a stray few of the bytes that text never
holds (control characters, DEL, the bytes Windows-1252 leaves undefined).
"""

from __future__ import annotations

import pytest

from t5_vectors.files import read_file

LATIN_1 = (
    "Grüße aus Köln: Äpfel, Öl, Übermaß. Café, crème brûlée, façade, naïve, señor, à bientôt!!\n"
)


def _read(tmp_path, data: bytes):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    return read_file(path)


TEXT = [
    ("short latin-1, 18% accents", LATIN_1.encode("latin-1")),
    ("one accented word", b"caf\xe9"),
    ("windows-1252 quotes and dash", "\u201cFerns\u201d \u2013 shade \u2026".encode("cp1252")),
    ("cyrillic in windows-1251", "Папоротник любит тень.".encode("cp1251")),
    ("one stray control byte", b"caf\xe9 \x07 ok"),
    ("old DOS end-of-file mark", b"caf\xe9 text\r\n\x1a"),
    ("ANSI colours", b"\x1b[31mcaf\xe9\x1b[0m\n"),
    ("long latin-1", LATIN_1.encode("latin-1") * 200),  # past the 8 KiB sniffed
    ("utf-8 with one bad byte", "Ёлка. Нет. Пальма.".encode() + b"\xff"),  # 0x81, 0x9D inside
]
BINARY = [
    ("a NUL byte in otherwise latin-1 text", LATIN_1.encode("latin-1") + b"\x00"),
    ("a NUL byte in utf-8 text", b"plain text\x00"),
    ("control bytes", b"caf\xe9 \x01\x02\x03 " * 4),
    ("two control bytes in a short text", b"caf\xe9\x07\x01 ok"),
    ("high bytes with undefined windows-1252 ones", bytes(range(128, 256)) * 4),
]


@pytest.mark.parametrize(("name", "data"), TEXT, ids=[name for name, _ in TEXT])
def test_text_in_an_8_bit_encoding_is_lossy_text(tmp_path, name, data):
    content = _read(tmp_path, data)
    assert not content.binary, name
    assert content.replaced > 0
    assert content.text == data.decode("utf-8", errors="replace")


def test_the_issue_file_keeps_its_ascii_and_marks_what_it_lost(tmp_path):
    content = _read(tmp_path, LATIN_1.encode("latin-1"))
    assert content.replaced == 16
    assert content.text.startswith("Gr\ufffd\ufffde aus K\ufffdln")


@pytest.mark.parametrize(("name", "data"), BINARY, ids=[name for name, _ in BINARY])
def test_binary_is_a_nul_or_bytes_text_never_holds(tmp_path, name, data):
    content = _read(tmp_path, data)
    assert content.binary, name
    assert content.text == ""


def test_valid_utf8_is_unchanged(tmp_path):
    content = _read(tmp_path, LATIN_1.encode())
    assert (content.text, content.binary, content.replaced) == (LATIN_1, False, 0)
