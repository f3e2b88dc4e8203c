"""The input rules for text, shared by the encoder, the LangChain adapters and the Qdrant layer.

* A text is a ``str``. ``None``, ``bytes`` and other types are refused with
  :class:`~t5_vectors.errors.InvalidInputError` (decode bytes first).
* Empty and whitespace-only texts are valid and embedded, as sentence-transformers and
  langchain-qdrant do: T5 reads them as ``</s>`` alone, so they all get the same vector.
* Lone surrogates (``"\\ud800"``, what ``errors="surrogateescape"`` makes of invalid UTF-8) are
  refused wherever text goes (texts, queries, ids, metadata keys and values, filters): they
  cannot be encoded as UTF-8, so neither the tokenizer nor Qdrant's JSON can store them, and
  replacing them silently would change what comes back out.
* Texts longer than ``max_length`` tokens are truncated with one
  :class:`~t5_vectors.TruncationWarning` per encoder; the stored ``page_content`` keeps
  the whole text.
"""

from __future__ import annotations

from collections.abc import Iterable

from t5_vectors.errors import InvalidInputError

_FIX_SURROGATE = (
    "Lone surrogates come from invalid UTF-8 read with errors='surrogateescape'; read files "
    "with errors='replace', or clean the text with "
    "text.encode('utf-8', 'replace').decode('utf-8')."
)


def surrogate_position(text: str) -> int | None:
    """Index of the first lone surrogate in *text* (not encodable as UTF-8), else ``None``."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return err.start
    return None


def check_text(value: object, *, where: str) -> str:
    """Return *value* if it is a valid text, else raise :class:`InvalidInputError`.

    Args:
        value: the candidate text.
        where: how the error message names it (for example ``"texts[3]"``).
    """
    if not isinstance(value, str):
        if isinstance(value, bytes | bytearray):
            raise InvalidInputError(
                f"{where}: expected str, found {type(value).__name__} {bytes(value[:40])!r}. "
                "Decode it first: data.decode('utf-8', errors='replace')."
            )
        found = "None" if value is None else f"{type(value).__name__} {value!r:.40}"
        raise InvalidInputError(
            f"{where}: expected str, found {found}. Remove it or convert it to text first."
        )
    position = surrogate_position(value)
    if position is not None:
        raise InvalidInputError(
            f"{where}: expected text encodable as UTF-8, found a lone surrogate "
            f"{value[position]!r} at character {position}. {_FIX_SURROGATE}"
        )
    return value


def check_texts(texts: Iterable[str]) -> list[str]:
    """Validate a list of texts (not one ``str``) and return it as a list."""
    if isinstance(texts, str | bytes):
        raise InvalidInputError(
            f"texts: expected a list of strings, found a single {type(texts).__name__} "
            f"({texts[:40]!r}). Wrap it in a list: encode([text])."
        )
    if texts is None or not isinstance(texts, Iterable):
        raise InvalidInputError(
            f"texts: expected a list of strings, found {type(texts).__name__}. "
            "Pass a list: encode(['some text'])."
        )
    items = list(texts)
    for index, item in enumerate(items):
        check_text(item, where=f"texts[{index}]")
    return items
