"""Embedders: the bundled EmbeddingGemma, e5, USE, an OpenAI-compatible server, the vector cache."""
