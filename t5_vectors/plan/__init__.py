"""Plans: what to write and what to query, decided in pure code (no engine, no I/O).

Modules: :mod:`~t5_vectors.plan.ids` (point ids), :mod:`~t5_vectors.plan.payload` (the stored
data contract and content hashes), :mod:`~t5_vectors.plan.vectors` (token and sparse vector
options), :mod:`~t5_vectors.plan.layout` (an existing collection's vectors read back),
:mod:`~t5_vectors.plan.collection` (collection settings, the schema they create, the check of an
existing one), :mod:`~t5_vectors.plan.model_record` (the model recorded with a collection),
:mod:`~t5_vectors.plan.filters` (filters to Qdrant's JSON form), :mod:`~t5_vectors.plan.search`
and :mod:`~t5_vectors.plan.retrieval` (search options and the query plan of each mode),
:mod:`~t5_vectors.plan.points` (id lookups and deletes), :mod:`~t5_vectors.plan.report` (the
ingest report), :mod:`~t5_vectors.plan.footprint` (bytes per chunk) and
:mod:`~t5_vectors.storage.retry` (the retry policy).
"""
