"""Plans: what to write and what to query, decided in pure code (no engine, no I/O).

Modules: :mod:`~t5_vectors.plan.ids` (point ids), :mod:`~t5_vectors.plan.payload` (the stored
data contract and content hashes), :mod:`~t5_vectors.plan.vectors` (token and sparse vector
options), :mod:`~t5_vectors.plan.layout` (an existing collection's vectors read back),
:mod:`~t5_vectors.plan.collection` (collection settings, the schema they create, the check of an
existing one), :mod:`~t5_vectors.plan.model_record` (the model recorded with a collection),
:mod:`~t5_vectors.plan.filters` (filters to Qdrant's JSON form), :mod:`~t5_vectors.plan.search`
and :mod:`~t5_vectors.plan.retrieval` (search options and the query plan of each mode),
:mod:`~t5_vectors.plan.points` (id lookups and deletes) and :mod:`~t5_vectors.plan.footprint`
(bytes per chunk, from points the index read). Plans import no engine and do no I/O: a test
over the import graph holds it (tests/test_layers.py).
"""
