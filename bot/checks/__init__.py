"""Checks on what the reply says: markers, sentences, claims, support, citations."""
