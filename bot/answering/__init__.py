"""Answering: the question's way through language, retrieval, evidence and the reply."""
