"""The collection layout on the command line: ``--token-vectors``, ``--sparse`` and ``--mode``.

``ingest`` creates a new collection with the vectors its flags ask for. An existing collection
is opened as it is (:func:`t5_vectors.plan.layout.collection_layout`): a plain ``ingest`` into
a collection with token or sparse vectors keeps filling them, and a flag asking for vectors the
collection lacks is refused, since Qdrant cannot add vectors to an existing collection.
``search`` opens the collection the same way and refuses a ``--mode`` it cannot serve, naming
the ``ingest`` flag that would.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from t5_vectors.errors import CollectionConfigError, InvalidInputError

if TYPE_CHECKING:
    from t5_vectors.plan.collection import CollectionSpec
    from t5_vectors.plan.layout import CollectionLayout

TOKEN_DTYPES = ("float32", "float16")

_MODE_NEEDS = {mode: ("token vectors", "--token-vectors") for mode in ("maxsim", "rerank")}
_MODE_NEEDS |= {mode: ("sparse vectors", "--sparse") for mode in ("sparse", "hybrid")}


def add_layout_options(parser: argparse.ArgumentParser) -> None:
    """``--token-vectors``, ``--token-dtype`` and ``--sparse`` (for ``ingest``)."""
    parser.add_argument(
        "--token-vectors",
        action="store_true",
        help="also store each chunk's token vectors (a MaxSim multivector, about tokens x "
        "d_model values a chunk): enables search --mode maxsim and rerank; new collections only",
    )
    parser.add_argument(
        "--token-dtype",
        metavar="|".join(TOKEN_DTYPES),
        help="how token vectors are stored (default float32; float16 halves them)",
    )
    parser.add_argument(
        "--sparse",
        action="store_true",
        help="also store BM25 weights of the model's tokenizer pieces: enables search --mode "
        "sparse and hybrid; new collections only",
    )


def check_layout_flags(args: argparse.Namespace) -> None:
    """Refuse ``--token-dtype`` without ``--token-vectors``, or an unknown datatype."""
    if args.token_dtype is None:
        return
    if args.token_dtype not in TOKEN_DTYPES:
        raise InvalidInputError(
            f"--token-dtype: expected {' or '.join(TOKEN_DTYPES)}, found {args.token_dtype!r}."
        )
    if not args.token_vectors:
        raise InvalidInputError(
            f"--token-dtype: expected together with --token-vectors, found --token-dtype "
            f"{args.token_dtype} alone. Add --token-vectors, or drop --token-dtype."
        )


def describe_layout(layout: CollectionLayout) -> str:
    """``"dense 768 cosine + tokens float16 + sparse"``: what each point stores.

    Vectors t5-vectors did not write are named at the end, ``"+ 'x' (not t5-vectors' own)"``.
    """
    parts = [f"dense {layout.dim} {layout.distance}"]
    if layout.tokens is not None:
        parts.append(f"tokens {layout.tokens.qdrant_datatype.value}")
    if layout.sparse is not None:
        parts.append("sparse")
    if layout.foreign:
        parts.append(f"{', '.join(map(repr, layout.foreign))} (not t5-vectors' own)")
    return " + ".join(parts)


def ingest_options(
    args: argparse.Namespace, layout: CollectionLayout | None, collection: str
) -> CollectionSpec:
    """The collection spec for ``ingest`` into *collection*.

    Args:
        args: ``--token-vectors``, ``--token-dtype`` and ``--sparse``.
        layout: the existing collection's layout, ``None`` for a new collection.
        collection: its name, for messages.

    Raises:
        CollectionConfigError: the flags ask for vectors the existing collection lacks, or it
            holds vectors t5-vectors cannot fill.
    """
    from t5_vectors.plan.collection import CollectionSpec

    if layout is None:
        from t5_vectors.plan.vectors import TokenVectors

        tokens = (
            TokenVectors(datatype=args.token_dtype or "float32") if args.token_vectors else None
        )
        return CollectionSpec(token_vectors=tokens, sparse_vectors=bool(args.sparse))
    fix = (
        f"ingest into a new collection (--collection OTHER), or remove this one first "
        f"(t5-vectors delete --collection {collection}) and ingest again"
    )
    found = describe_layout(layout)
    if layout.foreign:
        raise CollectionConfigError(
            f"Expected collection {collection!r} to hold only vectors t5-vectors fills, found "
            f"{found}, written by another tool or model, which it cannot fill: chunks written "
            f"now would lack them. To fix, {fix}."
        )
    if args.token_vectors and layout.tokens is None:
        raise CollectionConfigError(
            f"--token-vectors: expected collection {collection!r} to store token vectors, found "
            f"{found} (Qdrant cannot add vectors to an existing collection). To fix, {fix}."
        )
    if args.token_dtype and layout.tokens is not None:
        stored = layout.tokens.qdrant_datatype.value
        if stored != args.token_dtype:
            raise CollectionConfigError(
                f"--token-dtype: expected collection {collection!r} to store {args.token_dtype} "
                f"token vectors, found {stored} ones. To fix, drop --token-dtype to keep {stored}, "
                f"{fix}."
            )
    if args.sparse and layout.sparse is None:
        raise CollectionConfigError(
            f"--sparse: expected collection {collection!r} to store sparse vectors, found "
            f"{found} (Qdrant cannot add vectors to an existing collection). To fix, {fix}."
        )
    return layout.spec()


def require_mode(layout: CollectionLayout, mode: str, collection: str) -> None:
    """Raise :class:`CollectionConfigError` unless the collection can serve ``--mode`` *mode*."""
    if layout.serves(mode):
        return
    what, flag = _MODE_NEEDS[mode]
    served = " or ".join(f"--mode {served}" for served in layout.modes)
    raise CollectionConfigError(
        f"--mode {mode}: expected collection {collection!r} to store {what}, found "
        f"{describe_layout(layout)}. Ingest into a new collection with {flag} (t5-vectors "
        f"ingest PATH --collection OTHER {flag}), or search this one with {served}."
    )
