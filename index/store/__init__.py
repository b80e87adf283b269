"""The vector store (Chroma) and the keyword index beside it."""
