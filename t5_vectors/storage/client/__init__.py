"""qdrant-client: Qdrant servers and clusters by URL, ``:memory:``, and local-mode folders.

Modules: :mod:`~t5_vectors.storage.client.backend` (:class:`ClientBackend`,
:class:`AsyncClientBackend`), :mod:`~t5_vectors.storage.client.models` (the seam's types to
qdrant-client's models and back) and :mod:`~t5_vectors.storage.client.local` (repair of a
local-mode folder a kill interrupted).
"""
