"""Copy a collection from one backend to another, without re-encoding anything.

:func:`copy_collection` reads the source collection's :class:`~t5_vectors.storage.base.Schema`
(every named vector: dense, token multivector, sparse; its metadata, where t5-vectors keeps the
model record), creates the destination from it, and streams the points across page by page
(``scroll`` with vectors and payload, then ``upsert``): memory holds one page, whatever the
size of the collection. Ids, payloads and vectors arrive as they were stored.

Running it again is safe: the points are upserted under the same ids, so a copy interrupted
half-way is completed by running it again, and a finished one is rewritten unchanged. A
destination collection that exists but is another collection (other vectors, or another model
record) is refused with :class:`~t5_vectors.errors.CollectionConfigError` before anything is
written.
"""

from __future__ import annotations

from dataclasses import dataclass

from t5_vectors.errors import CollectionConfigError
from t5_vectors.storage.base import Backend, Point, PointId, Progress, Schema

DEFAULT_PAGE = 256
"""Points read and written per page."""


@dataclass(frozen=True)
class CopyReport:
    """What a copy did.

    Attributes:
        points: points copied.
        created: whether the destination collection was created (``False``: it existed).
    """

    points: int
    created: bool


def copy_collection(
    source: Backend,
    collection: str,
    destination: Backend,
    destination_collection: str | None = None,
    *,
    page: int = DEFAULT_PAGE,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy *collection* of *source* to *destination* (see the module docstring).

    Args:
        source: the backend to read.
        collection: the collection to copy.
        destination: the backend to write.
        destination_collection: its name there (default: the same name).
        page: points per page.
        progress: ``progress(points copied, points in the source)``.

    Raises:
        CollectionConfigError: the source collection does not exist, or the destination holds
            a different collection under that name.
    """
    target = destination_collection or collection
    schema = source.describe(collection)
    if schema is None:
        names = source.list_collections()
        raise CollectionConfigError(
            f"Expected collection {collection!r} at {source.location}, found "
            f"{'collections ' + ', '.join(map(repr, names)) if names else 'no collections'}. "
            "Check the name and the source."
        )
    existing = destination.describe(target)
    if existing is not None:
        _check_same(schema, existing, target, destination.location)
    else:
        destination.create(target, schema)
    total = source.count(collection)
    copied = 0
    if progress is not None:
        progress(0, total)
    offset: PointId | None = None
    while True:
        records, offset = source.scroll(
            collection, limit=page, offset=offset, with_payload=True, with_vectors=True
        )
        points = [
            Point(id=record.id, vectors=dict(record.vectors or {}), payload=record.payload or {})
            for record in records
        ]
        destination.upsert(target, points)
        copied += len(points)
        if progress is not None:
            progress(copied, total)
        if offset is None:
            break
    destination.build_index(target)
    return CopyReport(points=copied, created=existing is None)


def _vectors(schema: Schema) -> dict[str, str]:
    shapes = {
        name: f"{'multivector' if spec.multivector else 'dense'} {spec.size} {spec.distance} "
        f"{spec.datatype}"
        for name, spec in schema.dense.items()
    }
    shapes.update(
        {name: f"sparse{' idf' if spec.idf else ''}" for name, spec in schema.sparse.items()}
    )
    return dict(sorted(shapes.items()))


def _check_same(source: Schema, existing: Schema, name: str, location: str) -> None:
    wanted, found = _vectors(source), _vectors(existing)
    if wanted != found:
        what, there = f"vectors {wanted}", f"vectors {found}"
    elif dict(source.metadata) != dict(existing.metadata):
        what, there = "the source's metadata (model record)", "other metadata"
    else:
        return
    raise CollectionConfigError(
        f"Qdrant collection {name!r} at {location} is another collection; nothing was copied.\n"
        f"  expected: {what}\n"
        f"  found:    {there}\n"
        f"  fix:      copy to another collection name, or delete that collection first."
    )
