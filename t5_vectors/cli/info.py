"""``t5-vectors info``: collections, their point counts, vectors, distance and model."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from qdrant_client import models

from t5_vectors.cli.common import Target, add_qdrant_options, open_target

__all__ = ["add_parser", "describe", "run"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``info``."""
    info = commands.add_parser("info", help="list collections: points, vectors, distance, model")
    info.add_argument("--collection", metavar="NAME", help="only this collection")
    info.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_qdrant_options(info)
    info.set_defaults(run=run)


def _vectors(config: Any) -> dict[str, dict[str, Any]]:
    """``{vector name ("" = unnamed): {"size": ..., "distance": ...}}``."""
    params = config.params.vectors
    items = params.items() if isinstance(params, Mapping) else [("", params)] if params else []
    vectors = {
        name: {"size": p.size, "distance": p.distance.value.lower()}
        | ({"multivector": True} if p.multivector_config is not None else {})
        for name, p in items
    }
    for name in config.params.sparse_vectors or {}:
        vectors[name] = {"sparse": True}
    return vectors


def describe(target: Target, name: str) -> dict[str, Any]:
    """What ``info`` shows about collection *name*."""
    from t5_vectors.qdrant.model_record import read_record

    info: models.CollectionInfo = target.collection_info(name)
    record = read_record(info)
    return {
        "name": name,
        "points": target.connection.count(name),
        "vectors": _vectors(info.config),
        "model": record.model if record is not None else None,
        "fingerprint": record.fingerprint if record is not None else None,
    }


def run(args: argparse.Namespace) -> int:
    """Describe collections; returns the exit status."""
    target = open_target(args, must_exist=True)
    try:
        if args.collection:
            names = [args.collection]
        else:
            names = sorted(c.name for c in target.connection.client.get_collections().collections)
        described = [describe(target, name) for name in names]
    finally:
        target.close()
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
    return 0
