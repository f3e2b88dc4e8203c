"""A Ray ingest asks Ray for nothing it deprecates: actor pools go through ``compute=`` (Ray 2.51
deprecated ``concurrency=`` in ``map_batches``, and says so in a log line on every call).

Both stages that map batches run: the encoders (a first ingest) and the lookups (an ingest into
a collection that already holds points, through the worker path of a stand-in server).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from t5_vectors import QdrantIndex, T5Encoder
from t5_vectors.ray import ingest

from ._standin import serve

pytestmark = pytest.mark.usefixtures("ray_cluster")

CPU = {"device": "cpu", "dtype": "float32"}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def encoder(st5_path: Path) -> Iterator[T5Encoder]:
    encoder = T5Encoder.from_pretrained(str(st5_path), **CPU)
    yield encoder
    encoder.close()


@pytest.fixture
def said() -> Iterator[tuple[_Records, list[warnings.WarningMessage]]]:
    """What Ray Data logs and every warning raised while the test runs."""
    records = _Records()
    logger = logging.getLogger("ray.data")
    logger.addHandler(records)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield records, caught
    finally:
        logger.removeHandler(records)


def _deprecations(said: tuple[_Records, list[warnings.WarningMessage]]) -> list[str]:
    records, caught = said
    logged = [message for message in records.messages if "deprecated" in message.lower()]
    warned = [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        for w in caught
        if issubclass(w.category, DeprecationWarning | FutureWarning)
        and ("concurrency" in str(w.message) or "t5_vectors" in w.filename)
    ]
    return logged + warned


def rows(n: int) -> list[dict[str, str]]:
    return [{"id": f"doc-{i}", "text": f"Note {i} on ferns, light and water."} for i in range(n)]


def test_a_ray_ingest_into_embedded_storage_warns_of_nothing_deprecated(encoder, tmp_path, said):
    with QdrantIndex(encoder, collection_name="c", storage=tmp_path / "store") as index:
        report = ingest(ray.data.from_items(rows(12)), index, id_column="id", concurrency=1)
        assert report.written == 12
    assert _deprecations(said) == []


def test_a_ray_ingest_through_workers_with_lookups_warns_of_nothing_deprecated(encoder, said):
    with QdrantIndex(encoder, collection_name="c", storage=":memory:") as index:
        index.ensure_collection()
        server = serve(index.backend, "c")
        options = {"id_column": "id", "worker_storage": server}
        first = ingest(ray.data.from_items(rows(8)), index, concurrency=(1, 2), **options)
        again = ingest(ray.data.from_items(rows(12)), index, concurrency=1, **options)
    assert (first.written, again.written, again.skipped) == (8, 4, 8)
    assert _deprecations(said) == []
