"""Reaching points by document id: lookups, matching records, and delete selectors.

An id reaches the point t5-vectors wrote for it (``uuid5`` of the id, with the id stored in the
payload) and, when the id could itself be a point id (a UUID or an unsigned integer), a point a
foreign tool such as langchain-qdrant wrote under it verbatim, but only if that point carries no
t5-vectors id: a t5-vectors point is only ever reached through its own id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document

from t5_vectors.errors import InvalidInputError
from t5_vectors.plan.ids import DocumentId, check_document_id, foreign_point_id, point_id
from t5_vectors.plan.payload import ID_KEY, document_from_payload
from t5_vectors.storage.base import Filter, PointId, Record

DeleteTarget = tuple[list[PointId] | None, Filter | None]
"""``(ids, filter)`` of one backend ``delete`` call."""


@dataclass(frozen=True)
class IdLookup:
    """The points some document ids may address.

    Attributes:
        own: ``{uuid5 point id: document id}``, in the order asked, without repeats.
        foreign: ``{verbatim point id: document id}`` for ids that could be point ids.
    """

    own: dict[str, DocumentId]
    foreign: dict[str | int, DocumentId]

    @classmethod
    def of(cls, ids: Sequence[DocumentId]) -> IdLookup:
        """Validate *ids* (a list of str / int) and build the lookup."""
        if isinstance(ids, (str, int)) or not isinstance(ids, Sequence):
            raise InvalidInputError(
                f"ids: expected a list of ids, found {type(ids).__name__}. Write ids=[{ids!r}]."
            )
        own: dict[str, DocumentId] = {}
        foreign: dict[str | int, DocumentId] = {}
        for i, value in enumerate(ids):
            value = check_document_id(value, where=f"ids[{i}]")
            own.setdefault(point_id(value), value)
            raw = foreign_point_id(value)
            if raw is not None and raw not in own:
                foreign.setdefault(raw, value)
        return cls(own, foreign)

    @property
    def point_ids(self) -> list[str | int]:
        """Every point id to retrieve."""
        return [*self.own, *self.foreign]

    def match(self, records: Sequence[Record]) -> list[Document]:
        """The documents among *records* that these ids address, in the order asked."""
        found: dict[str, Document] = {}
        for record in records:
            payload = record.payload or {}
            key = record.id if isinstance(record.id, int) else str(record.id)
            if ID_KEY in payload and isinstance(key, str) and key in self.own:
                found.setdefault(str(self.own[key]), document_from_payload(key, payload))
            elif ID_KEY not in payload and key in self.foreign:
                found.setdefault(str(self.foreign[key]), document_from_payload(key, payload))
        asked = dict.fromkeys(str(value) for value in self.own.values())
        return [found[value] for value in asked if value in found]

    def delete_targets(self) -> list[DeleteTarget]:
        """Backend deletes removing exactly the points :meth:`match` would return."""
        targets: list[DeleteTarget] = []
        if self.own:
            targets.append((list(self.own), None))
        if self.foreign:
            foreign_only = {"must": [{"is_empty": {"key": ID_KEY}}]}
            targets.append((list(self.foreign), foreign_only))
        return targets


DELETE_ALL: DeleteTarget = (None, {"must": []})
"""Deletes every point of a collection."""
