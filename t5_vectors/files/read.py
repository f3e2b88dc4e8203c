"""Read a file as text: tell text from binary, decode, and turn HTML into its visible text.

The policy, in order:

1. A file starting with a UTF-8, UTF-16 or UTF-32 byte-order mark is text in that encoding.
2. A file with a NUL byte in its first 8 KiB is binary (images, archives, PDFs, executables).
3. Otherwise it is decoded as UTF-8. Bytes that are not valid UTF-8 become U+FFFD (the
   replacement character) and the file is reported as *lossy*: text in an 8-bit encoding
   (Latin-1, Windows-1252, ...) is text, however short and however many accents it has. It is
   binary only if more than 1% (and more than one) of its first 8 KiB are bytes that such text
   never holds: control characters other than tab, newline, vertical tab, form feed, carriage
   return and escape; DEL; and, among the bytes that are not UTF-8, the five that Windows-1252
   leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D).

``.html`` / ``.htm`` / ``.xhtml`` files are reduced to their visible text (no tags, scripts or
styles; block elements become paragraphs). Everything else (Markdown, reStructuredText, source
code, ...) is kept verbatim.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
_SNIFF = 8192
_MAX_NOT_TEXT = 0.01
# What text does not hold, as decoded with errors="surrogateescape" (a byte b that is not UTF-8
# becomes chr(0xDC00 + b)): control characters but whitespace and ESC, DEL, and the bytes that
# Windows-1252 leaves undefined.
_NOT_TEXT = frozenset(
    {chr(c) for c in range(0x20) if chr(c) not in "\t\n\v\f\r\x1b"}
    | {"\x7f"}
    | {chr(0xDC00 + b) for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class FileText:
    """A file's text, or the reason it has none.

    Attributes:
        text: the decoded (for HTML: extracted) text; ``""`` for binary files.
        binary: the file is binary and was not read as text.
        replaced: how many invalid bytes sequences became U+FFFD (0 for clean UTF-8).
    """

    text: str
    binary: bool = False
    replaced: int = 0


def read_file(path: Path) -> FileText:
    """Read *path* with the policy of this module (``OSError`` propagates)."""
    data = path.read_bytes()
    text: str | None = None
    replaced = 0
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace")
            replaced = text.count("\ufffd")
            break
    if text is None:
        if b"\x00" in data[:_SNIFF]:
            return FileText("", binary=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if _not_text(data[:_SNIFF]):
                return FileText("", binary=True)
            text = data.decode("utf-8", errors="replace")
            replaced = text.count("\ufffd") - data.count("\ufffd".encode())
    if path.suffix.lower() in HTML_SUFFIXES:
        text = html_to_text(text)
    return FileText(text, replaced=max(replaced, 0))


def _not_text(head: bytes) -> bool:
    """Whether *head* (not valid UTF-8) holds more bytes that text never holds than a stray few."""
    chars = head.decode("utf-8", errors="surrogateescape")
    found = sum(1 for char in chars if char in _NOT_TEXT)
    return found > max(1, _MAX_NOT_TEXT * len(chars))


_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt"}
    | {"figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header"}
    | {"hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "title"}
    | {"tr", "ul"}
)
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "head"})
_SPACES = re.compile(r"[ \t\r\f\v]+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.pre = 0
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in _HIDDEN:
            self.hidden += 1
        if tag == "pre":
            self.pre += 1
        if tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _HIDDEN and self.hidden:
            self.hidden -= 1
        if tag == "pre" and self.pre:
            self.pre -= 1
        if tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.hidden:
            self.parts.append(data if self.pre else _SPACES.sub(" ", data.replace("\n", " ")))


def html_to_text(html: str) -> str:
    """The visible text of an HTML document: title first, one paragraph per block element."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    title = " ".join("".join(parser.title).split())
    body = "".join(parser.parts)
    paragraphs = [line.strip() for line in re.split(r"\n\s*\n", body)]
    text = "\n\n".join(p for p in paragraphs if p)
    return f"{title}\n\n{text}" if title and not text.startswith(title) else text
