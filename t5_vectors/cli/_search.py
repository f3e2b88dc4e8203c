"""``t5-vectors search``: ranked chunks for a query, as text or JSON.

The model is the one recorded with the collection unless ``--model`` is given (a different
model is refused). Results are retrieved by :func:`_retrieve`: ``--mode`` (``dense``,
``sparse``, ``hybrid``, ``maxsim``, ``rerank``; see :mod:`t5_vectors.plan.retrieval`) or
``--mmr``. The collection is opened with the vectors it stores
(:func:`t5_vectors.plan.layout.collection_layout`), and a mode it cannot serve is refused
before the model loads, naming the ``ingest`` flag that stores what it needs.
"""

from __future__ import annotations

import argparse
import json
from contextlib import closing
from typing import TYPE_CHECKING, Any

from t5_vectors.cli._common import (
    add_model_options,
    add_qdrant_options,
    display_path,
    load_encoder,
    open_index,
    open_target,
    qdrant_step,
)
from t5_vectors.cli._layout import require_mode
from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.modes import FUSIONS, MODES

if TYPE_CHECKING:
    from t5_vectors.index.index import QdrantIndex
    from t5_vectors.plan.search import ScoredDocuments


SNIPPET_CHARS = 240

_PREFETCH_MODES = ("hybrid", "rerank")


def _retrieve(
    index: QdrantIndex, args: argparse.Namespace, filters: dict[str, Any] | None
) -> ScoredDocuments:
    """The results of ``--mmr`` (diverse, over the dense ranking), else of ``--mode``."""
    if args.mmr:
        return index.mmr(
            args.query, k=args.k, fetch_k=max(20, 4 * args.k), lambda_mult=0.5, filter=filters
        )
    return index.search(
        args.query,
        k=args.k,
        filter=filters,
        mode=args.mode,
        fusion=args.fusion or "rrf",
        dense_limit=args.prefetch,
        sparse_limit=args.prefetch,
    )


def _check_retrieval_flags(args: argparse.Namespace) -> None:
    """Refuse unknown modes and fusions, and flags that do not go with the mode."""
    if args.mode not in MODES:
        raise InvalidInputError(f"--mode: expected one of {', '.join(MODES)}, found {args.mode!r}.")
    if args.fusion is not None and args.fusion not in FUSIONS:
        raise InvalidInputError(
            f"--fusion: expected {' or '.join(FUSIONS)}, found {args.fusion!r}."
        )
    if args.fusion is not None and args.mode != "hybrid":
        raise InvalidInputError(
            f"--fusion: expected together with --mode hybrid (it fuses the dense and sparse "
            f"lists), found --mode {args.mode}. Add --mode hybrid, or drop --fusion."
        )
    if args.prefetch is not None:
        if args.mode not in _PREFETCH_MODES:
            raise InvalidInputError(
                f"--prefetch: expected together with --mode hybrid or rerank (the candidates "
                f"they fetch first), found --mode {args.mode}. Drop --prefetch."
            )
        if args.prefetch < args.k:
            raise InvalidInputError(
                f"--prefetch: expected at least -k ({args.k}) candidates per list, found "
                f"{args.prefetch}. Raise --prefetch, or lower -k."
            )
    if args.mmr and args.mode != "dense":
        raise InvalidInputError(
            f"--mmr: expected with --mode dense (MMR diversifies the pooled-vector ranking), "
            f"found --mode {args.mode}. Drop --mmr, or drop --mode {args.mode}."
        )


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``search``."""
    search = commands.add_parser("search", help="search a collection")
    search.add_argument("query", help="what to look for")
    search.add_argument("--collection", required=True, metavar="NAME", help="collection name")
    search.add_argument("-k", type=int, default=4, help="how many results (default 4)")
    search.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only chunks whose metadata KEY equals VALUE (numbers, true/false as JSON); "
        "repeat a key for any of several values; source=PATH also matches the absolute path",
    )
    search.add_argument(
        "--mode",
        default="dense",
        metavar="|".join(MODES),
        help="dense: pooled vectors (default); sparse: BM25 over the model's tokenizer pieces; "
        "hybrid: dense and sparse fused; maxsim: token vectors (MaxSim); rerank: dense "
        "candidates re-ranked by MaxSim. sparse and hybrid need a collection ingested with "
        "--sparse, maxsim and rerank one ingested with --token-vectors",
    )
    search.add_argument(
        "--fusion",
        metavar="|".join(FUSIONS),
        help="how --mode hybrid fuses its two lists: rrf (reciprocal rank, default) or dbsf "
        "(distribution-based score fusion)",
    )
    search.add_argument(
        "--prefetch",
        type=int,
        metavar="N",
        help="candidates fetched per list by --mode hybrid and rerank (default max(4k, 20))",
    )
    search.add_argument(
        "--mmr", action="store_true", help="diverse results (max marginal rel.; --mode dense)"
    )
    search.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_model_options(search, recorded=True)
    add_qdrant_options(search)
    search.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Search; returns the exit status."""
    if args.k < 1:
        raise InvalidInputError(f"-k: expected a positive number of results, found {args.k}.")
    _check_retrieval_flags(args)
    from t5_vectors.plan.filters import parse_key_values

    filters = parse_key_values(args.filter)
    with closing(open_target(args, must_exist=True)) as target, qdrant_step(target.where):
        from t5_vectors.plan.layout import collection_layout
        from t5_vectors.plan.model_record import read_record

        schema = target.collection_info(args.collection)  # an error before the model loads
        layout = collection_layout(schema, args.collection)
        require_mode(layout, args.mode, args.collection)
        recorded = read_record(schema)
        encoder = load_encoder(args, recorded.model if recorded is not None else None)
        try:
            index = open_index(args, encoder, target, layout.spec(), create_if_missing=False)
            results = _retrieve(index, args, filters)
        finally:
            encoder.close()
    if args.json:
        print(json.dumps(_as_json(args, encoder.name_or_path, results), indent=2))
    else:
        _print_results(args.query, results)
    return 0


def _as_json(args: argparse.Namespace, model: str, results: ScoredDocuments) -> dict[str, Any]:
    return {
        "query": args.query,
        "collection": args.collection,
        "model": model,
        "mode": "mmr" if args.mmr else args.mode,
        **({"fusion": args.fusion or "rrf"} if args.mode == "hybrid" else {}),
        **({"prefetch": args.prefetch} if args.prefetch is not None else {}),
        "results": [
            {
                "rank": rank,
                "score": float(score),
                "id": document.id,
                "source": document.metadata.get("source"),
                "chunk": document.metadata.get("chunk"),
                "start_index": document.metadata.get("start_index"),
                "metadata": document.metadata,
                "text": document.page_content,
            }
            for rank, (document, score) in enumerate(results, start=1)
        ],
    }


def _print_results(query: str, results: ScoredDocuments) -> None:
    if not results:
        print(f"No results for {query!r}.")
        return
    for rank, (document, score) in enumerate(results, start=1):
        source = document.metadata.get("source")
        where = display_path(source) if isinstance(source, str) else f"id {document.id}"
        chunk = document.metadata.get("chunk")
        print(f"{rank}. {score:.4f}  {where}" + (f"  (chunk {chunk})" if chunk is not None else ""))
        text = " ".join(document.page_content.split())
        snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 3] + "..."
        print(f"   {snippet}")
