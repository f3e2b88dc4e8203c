"""Search modes and fusions by name: constants the layout reads without loading the encoder."""

from __future__ import annotations

from typing import Literal

Mode = Literal["dense", "sparse", "hybrid", "maxsim", "rerank"]
Fusion = Literal["rrf", "dbsf"]
MODES: tuple[str, ...] = ("dense", "sparse", "hybrid", "maxsim", "rerank")
FUSIONS: tuple[str, ...] = ("rrf", "dbsf")
