"""LangChain integration: :class:`~t5_vectors.T5Embeddings` (:mod:`.embeddings`) and
:class:`~t5_vectors.T5QdrantVectorStore` (:mod:`.vectorstore`); import both from
:mod:`t5_vectors`."""
