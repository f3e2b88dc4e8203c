"""The storage seam (:mod:`t5_vectors.storage.base`) and its backends.

Backends: Qdrant Edge (embedded, in-process engine) and qdrant-client (servers, clusters,
``:memory:`` and folders written by qdrant-client's local mode).
"""
