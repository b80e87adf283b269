"""The indexing side of newsbot: corpus → load → clean → chunk → embed → Chroma."""
