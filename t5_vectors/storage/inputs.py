"""qdrant-client objects a user passes in, as the package's own types.

The public API accepts some qdrant-client models where a user may already have one: a
``models.Filter`` for ``filter=``, a ``models.SearchParams`` for ``search_params=``, a
``ScalarQuantization`` / ``BinaryQuantization`` / ``ProductQuantization`` for
``quantization=``. The layers above storage never import qdrant-client; they hand such a value
to these functions, which translate it (qdrant-client is imported only when the value is one of
its objects, so it is loaded already) or answer ``None`` for anything else. Enums
(``models.Distance``, ``models.Datatype``, ``models.PayloadSchemaType``) are ``str`` enums and
need no translation: their ``.value`` is read as text.
"""

from __future__ import annotations

from typing import Any

from t5_vectors.storage.base import Quantization, SearchParams


def _from_client(value: object) -> bool:
    return type(value).__module__.startswith("qdrant_client.")


def engine_filter(value: object) -> dict[str, Any] | None:
    """A qdrant-client ``models.Filter`` in Qdrant's JSON form; ``None`` for anything else."""
    if not _from_client(value):
        return None
    from qdrant_client import models

    if not isinstance(value, models.Filter):
        return None
    dumped: dict[str, Any] = value.model_dump(exclude_none=True, mode="json")
    return dumped


def engine_search_params(value: object) -> SearchParams | None:
    """A qdrant-client ``models.SearchParams`` as the seam's; ``None`` for anything else."""
    if not _from_client(value):
        return None
    from qdrant_client import models

    if not isinstance(value, models.SearchParams):
        return None
    quantization = value.quantization
    return SearchParams(
        hnsw_ef=value.hnsw_ef,
        exact=bool(value.exact),
        rescore=quantization.rescore if quantization is not None else None,
        oversampling=quantization.oversampling if quantization is not None else None,
    )


def engine_quantization(value: object) -> Quantization | None:
    """A qdrant-client quantization config as the seam's; ``None`` for anything else."""
    if not _from_client(value):
        return None
    from t5_vectors.storage.client.models import quantization_from_model

    return quantization_from_model(value)


def enum_text(value: object) -> object:
    """A ``str`` enum's value (``models.Distance.COSINE`` -> ``"Cosine"``); others as given."""
    text = getattr(value, "value", None)
    return text if isinstance(text, str) and isinstance(value, str) else value


def engine_schema(value: object) -> Any:
    """A qdrant-client ``CollectionInfo`` as the seam's ``Schema``; ``None`` for anything else."""
    if not _from_client(value):
        return None
    from t5_vectors.storage.client.models import schema_from_info

    return schema_from_info(value)  # type: ignore[arg-type]
