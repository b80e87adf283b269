"""The prompt templates and phrases, as data: a package only so they ship in the wheel.

``bot.answering.prompts`` reads ``*.j2`` and ``phrases/*.toml``, ``index.text.lexicon`` the
word lists ``lexicon/*.toml``, through ``importlib.resources``, the same way
from a checkout, an editable install and an installed wheel.
"""
