"""The core: T5 checkpoint loading, pooling, batching and the shared encoder.

Imports torch, transformers and numpy; never LangChain or Qdrant. :class:`~t5_vectors.T5Encoder`
(:mod:`.core`) and :func:`~t5_vectors.compare_dtypes` (:mod:`.precision_check`) are imported from
:mod:`t5_vectors`; this package's ``__init__`` imports nothing, so its light modules
(``sparse``, ``texts``, ``tokenize``) load without torch, as ``t5-vectors info`` does. Private:
``_checkpoint`` (finding and telling a checkpoint's layout), ``_loading`` (its parts),
``_forward`` (the inference forward pass), ``_batching`` (token-budget batches, the
micro-batcher), ``_runner`` (one batch's forward pass), ``_int8`` (int8 projections and their
recipe), ``_graphs`` (small batches replayed as CUDA graphs) and ``_streaming`` (a large call
queued chunk by chunk).
"""
