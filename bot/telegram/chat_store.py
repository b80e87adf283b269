"""Conversation memory of the Telegram bot: each chat's recent turns and cited answers, one JSON file per chat.

Written on every turn (atomically, via a temporary file and a rename), so the
history survives a restart or a crash of the bot. Both parts are bounded: the
last ``keep`` turns, and the sources of the last ``keep_answers`` answers (what
their source buttons point at, under a short random key), each with a capped
amount of quoted text. Other parts of newsbot keep a chat's own state in the same file, each in a
named section (``section`` / ``set_section``: the follows of ``bot.follow.book``), which a new
turn or answer leaves as it is and ``/reset`` does not forget.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.models import Answer, Source, Turn

logger = logging.getLogger(__name__)

KEY_PATTERN = r"[A-Za-z0-9_-]{8}"
"""A saved answer's key: 8 URL-safe characters (48 random bits), short enough for callback data."""

MAX_SOURCES = 30
"""Sources kept per answer (only those with quoted sentences)."""
_MAX_SENTENCES = 6
_MAX_SENTENCE_CHARS = 1_500
_MAX_QUOTED_CHARS = 12_000  # per answer: the file stays small whatever the answer path hands over
_MAX_FIELD_CHARS = 2_000
_KEY = re.compile(rf"^{KEY_PATTERN}$")


@dataclass(frozen=True)
class SavedAnswer:
    """What an answer's source buttons need after a restart: its key, its language and its sources."""

    key: str
    language: str
    sources: tuple[Source, ...]

    def source(self, marker: int) -> Source | None:
        """The source numbered ``marker``, if the answer had one."""
        return next((s for s in self.sources if s.marker == marker), None)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kept_sources(sources: tuple[Source, ...]) -> tuple[Source, ...]:
    """The sources worth a button (they have quoted sentences), their text bounded."""
    kept: list[Source] = []
    budget = _MAX_QUOTED_CHARS
    for source in sorted(sources, key=lambda s: s.marker)[:MAX_SOURCES]:
        sentences: list[str] = []
        for sentence in source.evidence[:_MAX_SENTENCES]:
            sentence = _clip(sentence.strip(), _MAX_SENTENCE_CHARS)
            if sentence and len(sentence) <= budget and sentence not in sentences:
                sentences.append(sentence)
                budget -= len(sentence)
        if sentences:
            kept.append(
                Source(
                    marker=source.marker,
                    article_id=_clip(source.article_id, _MAX_FIELD_CHARS),
                    title=_clip(source.title, _MAX_FIELD_CHARS),
                    url=source.url if source.url and len(source.url) <= _MAX_FIELD_CHARS else None,
                    date=_clip(source.date, 40) if source.date else None,
                    evidence=tuple(sentences),
                )
            )
    return tuple(kept)


def _source_json(source: Source) -> dict[str, Any]:
    return {
        "marker": source.marker,
        "article_id": source.article_id,
        "title": source.title,
        "url": source.url,
        "date": source.date,
        "evidence": list(source.evidence),
    }


def _source_from(raw: dict[str, Any]) -> Source:
    evidence = raw["evidence"]
    if not isinstance(evidence, list):
        raise TypeError("evidence is not a list")
    return Source(
        marker=int(raw["marker"]),
        article_id=str(raw["article_id"]),
        title=str(raw["title"]),
        url=str(raw["url"]) if raw.get("url") else None,
        date=str(raw["date"]) if raw.get("date") else None,
        evidence=tuple(str(sentence) for sentence in evidence),
    )


class ChatStore:
    """The recent turns and cited answers of every chat, kept under ``directory``."""

    def __init__(self, directory: Path, keep: int, keep_answers: int = 100) -> None:
        self._directory = directory
        self._keep = keep
        self._keep_answers = keep_answers

    def _path(self, chat_id: int) -> Path:
        return self._directory / f"{chat_id}.json"

    def _read(self, chat_id: int) -> dict[str, Any]:
        """The chat's file as stored; empty when there is none or it is unreadable."""
        path = self._path(chat_id)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("Ignoring unreadable chat history %s: %s", path.name, exc)
            return {}
        return raw if isinstance(raw, dict) else {}

    def _turns(self, raw: dict[str, Any]) -> list[Turn]:
        try:
            return [
                Turn(
                    question=str(t["question"]),
                    answer=str(t["answer"]),
                    language=str(t.get("language", "en")),
                )
                for t in raw.get("turns", [])
            ]
        except (KeyError, TypeError, AttributeError) as exc:
            logger.warning("Ignoring the malformed turns of a chat history: %s", exc)
            return []

    def _answers(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        answers = raw.get("answers", [])
        return [a for a in answers if isinstance(a, dict)] if isinstance(answers, list) else []

    def history(self, chat_id: int) -> tuple[Turn, ...]:
        """The chat's remembered turns, oldest first; empty when none or the file is unreadable."""
        turns = self._turns(self._read(chat_id))
        return tuple(turns[-self._keep :]) if self._keep else ()

    def append(self, chat_id: int, turn: Turn) -> None:
        """Remember one more turn, forgetting the oldest beyond ``keep``."""
        if self._keep == 0:
            return
        raw = self._read(chat_id)
        turns = [*self._turns(raw), turn][-self._keep :]
        self._write(chat_id, turns, self._answers(raw))

    def save_answer(self, chat_id: int, answer: Answer) -> SavedAnswer | None:
        """Remember an answer's quoted sources under a new key; ``None`` when none has a quote to show."""
        sources = _kept_sources(answer.sources)
        if not sources or self._keep_answers == 0:
            return None
        raw = self._read(chat_id)
        answers = self._answers(raw)
        taken = {a.get("key") for a in answers}
        key = secrets.token_urlsafe(6)
        while key in taken:  # 48 random bits among at most a few hundred keys: practically never
            key = secrets.token_urlsafe(6)
        saved = SavedAnswer(key=key, language=answer.language or "en", sources=sources)
        entry = {"key": key, "language": saved.language, "sources": [_source_json(s) for s in sources]}
        self._write(chat_id, self._turns(raw)[-self._keep :] if self._keep else [], [*answers, entry])
        return saved

    def saved_answer(self, chat_id: int, key: str) -> SavedAnswer | None:
        """The answer saved under ``key`` in this chat; ``None`` when it was never saved, forgotten or damaged."""
        if not _KEY.match(key):
            return None
        for entry in reversed(self._answers(self._read(chat_id))):
            if entry.get("key") != key:
                continue
            try:
                sources = tuple(_source_from(s) for s in entry["sources"])
                return SavedAnswer(key=key, language=str(entry.get("language") or "en"), sources=sources)
            except (KeyError, TypeError, ValueError) as exc:
                logger.warning("Ignoring a damaged saved answer in chat %s: %s", chat_id, exc)
                return None
        return None

    def reset(self, chat_id: int) -> None:
        """Forget the chat's history and the sources of its answers (its sections, such as follows, stay)."""
        if self._sections(self._read(chat_id)):
            self._write(chat_id, [], [])
            return
        self._path(chat_id).unlink(missing_ok=True)

    @staticmethod
    def _sections(raw: dict[str, Any]) -> dict[str, Any]:
        sections = raw.get("sections")
        return {k: v for k, v in sections.items() if v} if isinstance(sections, dict) else {}

    def section(self, chat_id: int, name: str) -> dict[str, Any]:
        """The chat's section ``name`` as stored (empty when none)."""
        value = self._sections(self._read(chat_id)).get(name)
        return dict(value) if isinstance(value, dict) else {}

    def set_section(self, chat_id: int, name: str, value: dict[str, Any]) -> None:
        """Store the chat's section ``name`` (an empty one is dropped); turns and answers stay as they are."""
        raw = self._read(chat_id)
        sections = {**self._sections(raw), name: value}
        turns = self._turns(raw)[-self._keep :] if self._keep else []
        self._write(chat_id, turns, self._answers(raw), {k: v for k, v in sections.items() if v})

    def chat_ids(self) -> list[int]:
        """Every chat that has a file here."""
        if not self._directory.is_dir():
            return []
        return sorted(int(p.stem) for p in self._directory.glob("*.json") if p.stem.lstrip("-").isdecimal())

    def _write(
        self,
        chat_id: int,
        turns: list[Turn],
        answers: list[dict[str, Any]],
        sections: dict[str, Any] | None = None,
    ) -> None:
        if sections is None:  # kept as they are on disk
            sections = self._sections(self._read(chat_id))
        self._directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "chat_id": chat_id,
            "turns": [{"question": t.question, "answer": t.answer, "language": t.language} for t in turns],
            "answers": answers[-self._keep_answers :] if self._keep_answers else [],
        }
        if sections:
            payload["sections"] = sections
        fd, tmp = tempfile.mkstemp(dir=self._directory, prefix=f".{chat_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, ensure_ascii=False)
            os.replace(tmp, self._path(chat_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
