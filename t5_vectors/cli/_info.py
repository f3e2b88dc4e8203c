"""``t5-vectors info``: collections, their point counts, vectors, layout, storage and model.

The layout (what each point stores: dense, token vectors with their datatype, sparse) and the
search modes it serves come from :func:`t5_vectors.plan.layout.collection_layout`. Bytes per
chunk are measured on up to ``--sample`` stored points without loading the model
(:meth:`t5_vectors.index.collection.Collection.footprint`; token vectors make that read the
largest).
"""

from __future__ import annotations

import argparse
import json
from contextlib import closing
from typing import TYPE_CHECKING, Any

from t5_vectors.cli._common import Target, add_qdrant_options, open_target, qdrant_step
from t5_vectors.cli._layout import describe_layout
from t5_vectors.errors import CollectionConfigError, InvalidInputError

if TYPE_CHECKING:
    from t5_vectors.plan.footprint import StorageReport
    from t5_vectors.plan.layout import CollectionLayout
    from t5_vectors.storage.base import Schema

DEFAULT_SAMPLE = 100


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``info``."""
    info = commands.add_parser("info", help="list collections: points, vectors, distance, model")
    info.add_argument("--collection", metavar="NAME", help="only this collection")
    info.add_argument("--json", action="store_true", help="print JSON for scripts")
    info.add_argument(
        "--sample",
        type=int,
        default=DEFAULT_SAMPLE,
        metavar="N",
        help=f"measure bytes per chunk on up to N stored points (default {DEFAULT_SAMPLE}; "
        "0 skips it)",
    )
    add_qdrant_options(info)
    info.set_defaults(run=run)


def _vectors(schema: Schema) -> dict[str, dict[str, Any]]:
    """``{vector name ("" = unnamed): {"size": ..., "distance": ...}}``."""
    vectors: dict[str, dict[str, Any]] = {
        name: {"size": spec.size, "distance": str(spec.distance).lower()}
        | ({"multivector": True} if spec.multivector else {})
        for name, spec in schema.dense.items()
    }
    for name in schema.sparse:
        vectors[name] = {"sparse": True}
    return vectors


def _layout(layout: CollectionLayout) -> dict[str, Any]:
    tokens, sparse = layout.tokens, layout.sparse
    return {
        "summary": describe_layout(layout),
        "dense": {
            "name": layout.vector_name or "",
            "size": layout.dim,
            "distance": layout.distance,
        },
        "tokens": None
        if tokens is None
        else {
            "name": tokens.name,
            "datatype": tokens.qdrant_datatype.value,
            "quantization": "scalar" if tokens.quantization is not None else None,
            "on_disk": tokens.on_disk,
        },
        "sparse": None if sparse is None else {"name": sparse.name, **sparse.record()},
        "modes": list(layout.modes),
        "foreign": list(layout.foreign),
    }


def _storage(report: StorageReport) -> dict[str, Any]:
    return {
        "sampled_points": report.points,
        "dense_bytes": round(report.dense_bytes, 1),
        "token_count": round(report.token_count, 1),
        "token_bytes": round(report.token_bytes + report.token_quantized_bytes, 1),
        "sparse_nnz": round(report.sparse_nnz, 1),
        "sparse_bytes": round(report.sparse_bytes, 1),
        "payload_bytes": round(report.payload_bytes, 1),
        "total_bytes": round(report.total_bytes, 1),
    }


def describe(target: Target, name: str, sample: int) -> dict[str, Any]:
    """What ``info`` shows about collection *name* (bytes per chunk on *sample* points)."""
    from t5_vectors.plan.layout import collection_layout
    from t5_vectors.plan.model_record import read_record

    schema = target.collection_info(name)
    record = read_record(schema)
    described: dict[str, Any] = {
        "name": name,
        "points": target.collection(name).count(),
        "vectors": _vectors(schema),
        "layout": None,
        "storage": None,
        "model": record.model if record is not None else None,
        "fingerprint": record.fingerprint if record is not None else None,
        "max_length": record.max_length if record is not None else None,
        "chunking": dict(record.chunking) if record is not None and record.chunking else None,
    }
    try:
        layout = collection_layout(schema, name)
    except CollectionConfigError as error:  # not a layout t5-vectors can open; still listed
        described["layout_error"] = str(error)
        return described
    described["layout"] = _layout(layout)
    if sample > 0 and described["points"] > 0:
        report = target.collection(name).footprint(layout.spec(), layout.dim, sample)
        described["storage"] = _storage(report)
    return described


def run(args: argparse.Namespace) -> int:
    """Describe collections; returns the exit status."""
    if args.sample < 0:
        raise InvalidInputError(
            f"--sample: expected a number of points >= 0 (0 skips storage), found {args.sample}."
        )
    with closing(open_target(args, must_exist=True)) as target, qdrant_step(target.where):
        names = [args.collection] if args.collection else target.collection_names()
        described = [describe(target, name, args.sample) for name in names]
    if args.json:
        print(json.dumps({"where": target.where, "collections": described}, indent=2))
        return 0
    if not described:
        print(f"No collections in {target.where}.")
        return 0
    print(f"{len(described)} collection{'s' if len(described) != 1 else ''} in {target.where}:")
    for item in described:
        vectors = ", ".join(
            (f"{name}: " if name else "")
            + ("sparse" if spec.get("sparse") else f"{spec['size']} {spec['distance']}")
            + (" multivector" if spec.get("multivector") else "")
            for name, spec in item["vectors"].items()
        )
        model = item["model"] or "not recorded"
        print(f"  {item['name']}: {item['points']} points, vectors {vectors}, model {model}")
        layout = item["layout"]
        if layout is not None:
            print(f"    layout: {layout['summary']}; modes: {', '.join(layout['modes'])}")
        if item["max_length"] or item["chunking"]:
            print(f"    {_reading_line(item['max_length'], item['chunking'])}")
        if item["storage"] is not None:
            print(f"    {_storage_line(item['storage'])}")
    return 0


def _reading_line(max_length: int | None, chunking: dict[str, int] | None) -> str:
    """``model reads up to 256 tokens; files chunked by 256 tokens, 32 overlapping``."""
    parts = [f"model reads up to {max_length} tokens"] if max_length else []
    if chunking:
        parts.append(
            f"files chunked by {chunking.get('chunk_tokens')} tokens, "
            f"{chunking.get('chunk_overlap')} overlapping"
        )
    return "; ".join(parts)


def _storage_line(storage: dict[str, Any]) -> str:
    parts = [f"dense {_size(storage['dense_bytes'])}"]
    if storage["token_count"]:
        parts.append(f"tokens {_size(storage['token_bytes'])} ({storage['token_count']} tokens)")
    if storage["sparse_nnz"]:
        parts.append(f"sparse {_size(storage['sparse_bytes'])} ({storage['sparse_nnz']} pieces)")
    parts.append(f"payload {_size(storage['payload_bytes'])}")
    return (
        f"per chunk ({storage['sampled_points']} sampled): {_size(storage['total_bytes'])} = "
        + " + ".join(parts)
    )


def _size(value: float) -> str:
    if value < 1024:
        return f"{value:.0f} B"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KiB"
    return f"{value / 1024 / 1024:.2f} MiB"
