"""Scale-out on Ray Data: embed datasets on actor pools, write them to Qdrant from the workers.

::

    import ray
    from t5_vectors import QdrantIndex, T5Encoder
    from t5_vectors.ray import ingest

    index = QdrantIndex(T5Encoder.from_pretrained(...), url="http://qdrant:6333")
    report = ingest(ray.data.read_parquet("s3://bucket/chunks/"), index, concurrency=8, num_gpus=1)

Needs the ``ray`` extra (``pip install "t5-vectors[ray]"``); nothing else in t5-vectors imports
Ray. Public names: :class:`T5EmbedBatches` (a callable class for ``Dataset.map_batches``),
:class:`QdrantDatasink` (for ``Dataset.write_datasink``), :func:`ingest` (a dataset into a
``QdrantIndex``, end to end) and :func:`ingest_files` (files, chunked as the CLI chunks them).
"""

from __future__ import annotations

try:
    import ray
    import ray.data
except ImportError as err:  # pragma: no cover - exercised in a subprocess without Ray
    raise ImportError(
        "t5_vectors.ray needs Ray Data, which is not installed. Install the extra: "
        'pip install "t5-vectors[ray]"'
    ) from err

from typing import TYPE_CHECKING

from t5_vectors._lazy import lazy_exports

if TYPE_CHECKING:
    from t5_vectors.ray._embed import T5EmbedBatches
    from t5_vectors.ray._files import ingest_files
    from t5_vectors.ray._ingest import ingest
    from t5_vectors.ray._sink import QdrantDatasink

_LAZY: dict[str, str] = {
    "QdrantDatasink": "t5_vectors.ray._sink",
    "T5EmbedBatches": "t5_vectors.ray._embed",
    "ingest": "t5_vectors.ray._ingest",
    "ingest_files": "t5_vectors.ray._files",
}
"""Each public name and the module it is imported from on first use.

Lazy so that an encoder actor, which imports only :mod:`t5_vectors.ray._embed`, does not also
import the lookup, write and file stages (and qdrant-client with them) before its first batch.
"""

__all__ = ["QdrantDatasink", "T5EmbedBatches", "ingest", "ingest_files"]

del ray


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
