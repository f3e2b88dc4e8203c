"""The storage seam: the only layer that talks to an engine.

:mod:`~t5_vectors.storage.base` is the protocol (a :class:`~t5_vectors.storage.base.Backend` in
the package's own types, and its :class:`~t5_vectors.storage.base.Capabilities`);
:mod:`~t5_vectors.storage.open` is the one door: any location to a
:class:`~t5_vectors.storage.open.Storage` (nothing else makes a backend);
the backends are :mod:`~t5_vectors.storage.edge` (Qdrant Edge, embedded, in process) and
:mod:`~t5_vectors.storage.client` (qdrant-client: servers, clusters, ``:memory:`` and folders
written by its local mode). :mod:`~t5_vectors.storage.errors` says which failures are transient,
:mod:`~t5_vectors.storage.inputs` translates qdrant-client objects a user passes in,
:mod:`~t5_vectors.storage.retry` and :mod:`~t5_vectors.storage.threaded` wrap any backend,
and :mod:`~t5_vectors.storage.copy` moves a collection between two.
"""
