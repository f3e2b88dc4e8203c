"""``QdrantDatasink``: ``Dataset.write_datasink`` into a ``QdrantIndex``'s collection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ray.data import Datasink
from ray.data.datasource.datasink import WriteResult

from t5_vectors._checks import check_positive_int
from t5_vectors.index.collection import Collection
from t5_vectors.plan.payload import PreparedDocument
from t5_vectors.ray._batches import num_rows
from t5_vectors.ray._rows import Columns, to_points
from t5_vectors.ray._target import Target
from t5_vectors.storage.open import StorageLike

if TYPE_CHECKING:
    from t5_vectors.index.index import QdrantIndex


DEFAULT_WRITE_BATCH = 256


class QdrantDatasink(Datasink[int]):
    """Upsert an embedded Ray dataset into a ``QdrantIndex``'s collection, from the workers.

    Each write task opens its own connection to the Qdrant server (or cluster) and upserts its
    blocks in batches of ``batch_size`` points, each retried on transient failures with the
    index's ``RetryPolicy``. Points get the ids, payload layout and content hashes that
    :meth:`QdrantIndex.ingest` gives them, so writing the same rows twice changes nothing, and a
    task that Ray retries after a crash rewrites the same points. The collection and its model
    record are created or checked once, on the driver, before any worker writes
    (``on_write_start``).

    Rows need the text column and the vector columns the collection stores (pooled vector, and
    the token / sparse columns when the index has them), as :class:`T5EmbedBatches` adds them
    with the index's model. Metadata comes from ``metadata_columns`` (default: every other
    column); ids from ``id_column`` (default: derived from ``source`` and text).

    Setup:
        .. code-block:: bash

            pip install "t5-vectors[ray]"

    Instantiate:
        .. code-block:: python

            import ray
            from t5_vectors import QdrantIndex, T5Encoder
            from t5_vectors.ray import QdrantDatasink, T5EmbedBatches

            model = "sentence-transformers/sentence-t5-base"
            index = QdrantIndex(T5Encoder.from_pretrained(model), storage="http://qdrant:6333")
            ds = ray.data.read_parquet("s3://bucket/chunks/")  # text, source, chunk
            ds = ds.map_batches(
                T5EmbedBatches,
                fn_constructor_kwargs={"model": model},
                compute=ray.data.ActorPoolStrategy(size=4),
            )
            sink = QdrantDatasink(index, id_column=None, metadata_columns=["source", "chunk"])
            ds.write_datasink(sink)
            print(sink.written)

    Prefer :func:`t5_vectors.ray.ingest`, which also skips chunks stored unchanged before they
    are encoded, and writes embedded storage from the driver.

    Args:
        index: the index whose collection receives the points (stays on the driver).
        text_column: the chunk texts.
        vector_column: the pooled vectors.
        id_column: the document ids (``None``: derived, as ``QdrantIndex.ingest`` does).
        metadata_columns: the columns stored as metadata (``None``: every other column).
        token_column: the token vectors (when the index stores them).
        sparse_column: the prefix of the sparse columns (when the index stores them).
        batch_size: points per upsert.
        worker_storage: where each write task writes: anything
            :func:`~t5_vectors.storage.open.open_storage` opens there (default: the index's
            server, :meth:`~t5_vectors.storage.open.Storage.server_location`).

    Raises:
        InvalidInputError: the index is embedded storage (workers cannot reach it) and no
            ``worker_storage`` is given, or bad options.
    """

    def __init__(
        self,
        index: QdrantIndex,
        *,
        text_column: str = "text",
        vector_column: str = "vector",
        id_column: str | None = None,
        metadata_columns: Sequence[str] | None = None,
        token_column: str = "tokens",
        sparse_column: str = "sparse",
        batch_size: int = DEFAULT_WRITE_BATCH,
        worker_storage: StorageLike | None = None,
    ) -> None:
        check_positive_int("batch_size", batch_size)
        self.columns = Columns(
            text=text_column,
            id=id_column,
            metadata=metadata_columns,
            vector=vector_column,
            tokens=token_column,
            sparse=sparse_column,
        )
        self.target = Target.of(index, worker_storage)
        self.batch_size = batch_size
        self.written = 0
        self.rows = 0
        self._index: QdrantIndex | None = index

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_index"] = None  # the index (encoder, clients) stays on the driver
        return state

    def __repr__(self) -> str:
        target = self.target
        return f"QdrantDatasink(collection={target.collection!r}, storage={target.location!r})"

    def get_name(self) -> str:
        return "Qdrant"

    def on_write_start(self, schema: Any = None) -> None:
        """On the driver, before any write task: create or check the collection."""
        if self._index is not None:
            self._index.ensure_collection()

    def write(self, blocks: Iterable[Any], ctx: Any) -> int:
        """In a write task: upsert the blocks; returns the points written."""
        collection = self.target.open()
        try:
            return sum(
                write_block(collection, self.target, self.columns, block, self.batch_size)
                for block in blocks
            )
        finally:
            collection.storage.close()

    def on_write_complete(self, write_result: WriteResult[int]) -> None:
        """On the driver: record how many rows reached the tasks, and how many points they wrote."""
        self.rows += write_result.num_rows
        self.written += sum(write_result.write_returns)


def write_block(
    collection: Collection, target: Target, columns: Columns, block: Any, batch_size: int
) -> int:
    """Upsert one block (a batch in any Ray format) in batches (each retried by the
    collection); returns the points written."""
    if num_rows(block) == 0:
        return 0
    documents, points = to_points(block, columns, target.layout)
    if len({document.point_id for document in documents}) < len(documents):
        points = [points[i] for i in dedupe_last(documents)]
    for start in range(0, len(points), batch_size):
        collection.upsert(points[start : start + batch_size])
    return len(points)


def dedupe_last(documents: Sequence[PreparedDocument]) -> list[int]:
    """Positions of the last document of each point id, in input order (as ``ingest`` does)."""
    last = {document.point_id: i for i, document in enumerate(documents)}
    return sorted(last.values())
