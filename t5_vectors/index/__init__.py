"""The index layer: a Qdrant collection fed and searched through one embedding model.

:mod:`~t5_vectors.index.index` holds :class:`~t5_vectors.QdrantIndex` (import it from
:mod:`t5_vectors`); :mod:`~t5_vectors.index.collection` one collection's calls with retries and
no model (file bookkeeping, ``info``, the servers use it); :mod:`~t5_vectors.index.ingest` the
streaming pipeline; :mod:`~t5_vectors.index.embedder` and :mod:`~t5_vectors.index._encoding`
what turns texts into every vector a collection stores; :mod:`~t5_vectors.index.identity` the
model checked against a collection's record; :mod:`~t5_vectors.index.options` the search
keywords. Every sync method's async twin is generated from it (``scripts/generate_async.py``).
"""
