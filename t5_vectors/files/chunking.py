"""Split texts into chunks measured in the encoder's own tokens.

:class:`TokenChunker` runs langchain-text-splitters' ``RecursiveCharacterTextSplitter`` (with
the separators of the file's language: Markdown headings, Python ``def``/``class``, ...) and
measures every piece with the encoder's tokenizer, so ``chunk_tokens`` is a number of T5 tokens,
not characters. Each chunk is then counted exactly as the encoder will see it (document prefix
and ``</s>`` included) and any chunk still over the limit is halved at whitespace, so a chunk is
never truncated by the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from t5_vectors.errors import InvalidInputError

if TYPE_CHECKING:
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    from t5_vectors.encoder.core import T5Encoder


DEFAULT_CHUNK_TOKENS = 256
"""Chunk size when none is given (capped at the model's ``max_length``)."""

SPLIT_RULES = 1
"""The version of the splitting rules (:meth:`TokenChunker.split`): raise it whenever the same
text and settings would give other chunks, so that the file ingest splits every file again
(the version of ``langchain-text-splitters`` counts too: see :attr:`TokenChunker.signature`)."""

_SUFFIX_LANGUAGES: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".tex": "latex",
    ".py": "python",
    ".js": "js",
    ".jsx": "js",
    ".mjs": "js",
    ".ts": "ts",
    ".tsx": "ts",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".scala": "scala",
    ".swift": "swift",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".php": "php",
    ".rb": "ruby",
    ".lua": "lua",
    ".pl": "perl",
    ".hs": "haskell",
    ".ex": "elixir",
    ".exs": "elixir",
    ".r": "r",
    ".proto": "proto",
    ".sol": "sol",
    ".ps1": "powershell",
}


def language_of(path: str | PurePath) -> Language | None:
    """The language whose separators split *path* (``None``: paragraphs, lines, words)."""
    name = _SUFFIX_LANGUAGES.get(PurePath(path).suffix.lower())
    if name is None:
        return None
    from langchain_text_splitters import Language

    return Language(name)


@dataclass(frozen=True)
class ChunkSettings:
    """Chunk size and overlap in tokens; validated on creation (against a model: ``check``).

    Attributes:
        chunk_tokens: most tokens per chunk as the model sees it (prefix and ``</s>``
            included); ``None`` is :data:`DEFAULT_CHUNK_TOKENS` capped at the model's
            ``max_length``.
        chunk_overlap: tokens shared by consecutive chunks; ``None`` is an eighth of the size.
    """

    chunk_tokens: int | None = None
    chunk_overlap: int | None = None

    def __post_init__(self) -> None:
        for name in ("chunk_tokens", "chunk_overlap"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidInputError(f"{name}: expected an int, found {value!r}.")
        if self.chunk_tokens is not None and self.chunk_tokens < 8:
            raise InvalidInputError(
                f"chunk_tokens: expected at least 8 tokens, found {self.chunk_tokens}. "
                f"Use a size near {DEFAULT_CHUNK_TOKENS} for retrieval."
            )
        if self.chunk_overlap is not None and self.chunk_overlap < 0:
            raise InvalidInputError(
                f"chunk_overlap: expected 0 or more tokens, found {self.chunk_overlap}."
            )
        if (
            self.chunk_tokens is not None
            and self.chunk_overlap is not None
            and self.chunk_overlap >= self.chunk_tokens
        ):
            raise InvalidInputError(
                f"chunk_overlap: expected fewer tokens than chunk_tokens ({self.chunk_tokens}), "
                f"found {self.chunk_overlap}. Use an overlap of about a tenth of the size."
            )

    def resolve(self, max_length: int) -> tuple[int, int]:
        """``(chunk_tokens, chunk_overlap)`` for a model of *max_length* tokens."""
        size = self.chunk_tokens
        if size is None:
            size = min(DEFAULT_CHUNK_TOKENS, max_length)
        elif size > max_length:
            raise InvalidInputError(
                f"chunk_tokens: expected at most the model's max_length ({max_length} tokens), "
                f"found {size}. Longer chunks would be truncated: use --chunk-tokens "
                f"{max_length} or less."
            )
        overlap = self.chunk_overlap if self.chunk_overlap is not None else size // 8
        if overlap >= size:
            raise InvalidInputError(
                f"chunk_overlap: expected fewer tokens than chunk_tokens ({size}), found "
                f"{overlap}. Use an overlap of about a tenth of the size."
            )
        return size, overlap


@dataclass(frozen=True)
class Chunk:
    """One chunk of a text.

    Attributes:
        text: the chunk (stripped of surrounding whitespace).
        start_index: its character offset in the text.
    """

    text: str
    start_index: int


class TokenChunker:
    """Split texts into chunks of at most ``chunk_tokens`` tokens of *encoder*.

    Args:
        encoder: the encoder whose tokenizer measures chunks (and whose ``max_length``,
            document prefix and lower-casing they must fit).
        settings: size and overlap (default: :class:`ChunkSettings`).
    """

    def __init__(self, encoder: T5Encoder, settings: ChunkSettings | None = None) -> None:
        self.encoder = encoder
        self.settings = settings if settings is not None else ChunkSettings()
        self.chunk_tokens, self.chunk_overlap = self.settings.resolve(encoder.max_length)
        config = self.encoder.config
        self._prefix = config.document_prefix
        self._lowercase = config.lowercase
        prefix_tokens = self._count(self._prefix) - 1 if self._prefix else 0
        # Pieces are measured without </s>; the prefix and </s> take room from every chunk.
        self._piece_limit = self.chunk_tokens - 1 - prefix_tokens
        if self._piece_limit < 4 or self.chunk_overlap >= self._piece_limit:
            raise InvalidInputError(
                f"chunk_tokens: expected room for text after the document prefix "
                f"({prefix_tokens} tokens) and </s>, found chunk_tokens={self.chunk_tokens}, "
                f"chunk_overlap={self.chunk_overlap}. Use larger chunks or a smaller overlap."
            )
        self._splitters: dict[Language | None, RecursiveCharacterTextSplitter] = {}

    @property
    def signature(self) -> str:
        """What decides this chunker's output besides the text: the splitting rules' version,
        size, overlap, document prefix and lower-casing (the tokenizer is the model's, named by
        the index's fingerprint). Part of each file's digest in the file ingest."""
        from importlib.metadata import version

        splitters = version("langchain-text-splitters")
        return json.dumps(
            [
                SPLIT_RULES,
                splitters,
                self.chunk_tokens,
                self.chunk_overlap,
                self._prefix,
                self._lowercase,
            ]
        )

    def _count(self, text: str) -> int:
        return self.encoder.count_tokens([text.lower() if self._lowercase else text])[0]

    def tokens(self, text: str) -> int:
        """Tokens of *text* as a document, as the encoder feeds it (prefix and ``</s>``)."""
        return self._count(self._prefix + text)

    def _splitter(self, language: Language | None) -> RecursiveCharacterTextSplitter:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        if language not in self._splitters:
            length: Callable[[str], int] = lambda piece: self._count(piece) - 1  # noqa: E731
            options: dict[str, Any] = {
                "chunk_size": self._piece_limit,
                "chunk_overlap": self.chunk_overlap,
                "length_function": length,
            }
            self._splitters[language] = (
                RecursiveCharacterTextSplitter(**options)
                if language is None
                else RecursiveCharacterTextSplitter.from_language(language, **options)
            )
        return self._splitters[language]

    def split(self, text: str, language: Language | None = None) -> list[Chunk]:
        """The chunks of *text*, in order; none for a text of only whitespace."""
        if not text.strip():
            return []
        chunks: list[Chunk] = []
        previous = -1
        for piece in self._splitter(language).split_text(text):
            # Each chunk starts after the previous one's start. (The splitter's own
            # add_start_index subtracts the overlap, in tokens here, from a character offset.)
            start = text.find(piece, previous + 1)
            if start < 0:
                start = max(text.find(piece), 0)
            previous = start
            chunks.extend(self._fit(piece, start))
        return chunks

    def _fit(self, text: str, start: int) -> list[Chunk]:
        """*text* as one chunk, or halved at whitespace until every part fits."""
        if self.tokens(text) <= self.chunk_tokens or len(text) < 2:
            return [Chunk(text, start)]
        middle = len(text) // 2
        cut = text.rfind(" ", 0, middle)
        if cut <= 0:
            cut = text.find(" ", middle)
        if cut <= 0:
            cut = middle
        left, right = text[:cut], text[cut:]
        offset = len(right) - len(right.lstrip())
        parts = self._fit(left.rstrip(), start) if left.strip() else []
        if right.strip():
            parts.extend(self._fit(right.strip(), start + cut + offset))
        return parts
