"""The embed step's interface: what every embedder offers and what its vectors are compared with.

The backends (``index.embed.embeddings``, ``index.embed.openai_compat``) implement ``Embedder``;
the store, the retriever, the evidence step and the support check use only this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

Vector = list[float]


class Embedder(Protocol):
    """Turns passages and questions into vectors of one fixed dimension."""

    @property
    def model_name(self) -> str:
        """The name recorded in the index; another name means the index must be rebuilt."""
        ...

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors for article chunks (documents)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors for questions."""
        ...


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine of two vectors (0 when either is all zeros), in plain floats: a handful per question."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
