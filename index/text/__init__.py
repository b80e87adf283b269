"""Text primitives shared by both sides: language detection and the lexicon."""
