"""The bundled model end to end: `Newsbot` with provider=local assembles it, serves it on loopback and answers.

Asserts on facts, not wording: the small model's phrasing varies, the facts its
checked sentence (or the quotes) carry must not.
"""

from __future__ import annotations

import pytest

from bot.checks.citations import statement_sentences
from bot.checks.markers import markers
from bot.config import Settings
from bot.service import Newsbot
from index.config import EmbeddingSettings
from index.embed.bundled import bundled_gguf, default_cache_dir
from index.embed.embeddings import make_embedder

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(bundled_gguf(default_cache_dir()) is None, reason="run `newsbot models fetch` first"),
]

QUESTIONS = [
    ("When does the Eastern Economic Forum take place?", "en", ("10", "13")),
    ("Где проходит Восточный экономический форум?", "ru", ("Vladivostok", "Владивосток")),
    ("How long did the visit to the aircraft plant last?", "en", ("three", "3 h")),
]


def test_local_model_answers_with_the_facts_in_the_askers_language(settings: Settings) -> None:
    settings.llm = settings.llm.model_copy(
        update={"provider": "local", "max_tokens": 160, "temperature": 0.0}
    )
    # The product as shipped: a Russian question over English articles needs the cross-lingual embedder
    # (a hashed bag of words can neither rank nor support-check a translation).
    with Newsbot(settings, embedder=make_embedder(EmbeddingSettings())) as bot:
        bot.ensure_index()
        server_url = ""
        for question, language, facts in QUESTIONS:
            streamed: list[str] = []
            answer = bot.answer(question, [], on_token=streamed.append)
            server_url = server_url or bot._server.base_url
            assert answer.mode in ("local", "extractive")
            assert answer.language == language
            assert not answer.refused and answer.sources
            assert any(fact in answer.text for fact in facts), answer.text
            assert all(markers(sentence) for sentence in statement_sentences(answer.text)), answer.text
            assert "".join(streamed) == answer.text, "everything streamed is kept"
            assert answer.first_useful_ms is not None
            # The default composition (typed) shows the quotes at once, then at most a typed answer:
            # no free sentence of the model's reaches the reply.
            assert answer.first_useful_ms < answer.latency_ms
            label = bot.prompts.phrase("typed_answer_label", language)
            for line in filter(None, answer.text.splitlines()):
                assert line.startswith(("•", label)) or (line.endswith((":", ".")) and not markers(line)), line
            if answer.typed is not None:
                assert f"{label} {answer.typed} [" in answer.text
        assert server_url.startswith("http://127.0.0.1:")
    assert bot._server is None, "the server is stopped on exit"
