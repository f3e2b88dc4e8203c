"""Scale-out on Ray Data: embed datasets on actor pools, write them to Qdrant from the workers.

::

    import ray
    from t5_vectors import QdrantIndex, T5Encoder
    from t5_vectors.ray import ingest

    index = QdrantIndex(T5Encoder.from_pretrained(...), storage="http://qdrant:6333")
    report = ingest(ray.data.read_parquet("s3://bucket/chunks/"), index, concurrency=8, num_gpus=1)

Needs the ``ray`` extra (``pip install "t5-vectors[ray]"``); nothing else in t5-vectors imports
Ray. Public names: :class:`T5EmbedBatches` (a callable class for ``Dataset.map_batches``),
:class:`QdrantDatasink` (for ``Dataset.write_datasink``), :func:`ingest` (a dataset into a
``QdrantIndex``, end to end), :class:`RayStage` (the file pipeline's stage that encodes and
writes on Ray) and :func:`ingest_files` (the file pipeline with that stage).
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

from t5_vectors._lazy import attach

if TYPE_CHECKING:
    from t5_vectors.ray._embed import T5EmbedBatches as T5EmbedBatches
    from t5_vectors.ray._files import RayStage as RayStage
    from t5_vectors.ray._files import ingest_files as ingest_files
    from t5_vectors.ray._ingest import ingest as ingest
    from t5_vectors.ray._sink import QdrantDatasink as QdrantDatasink


del ray


__getattr__, __dir__, __all__ = attach(__name__, __file__)
