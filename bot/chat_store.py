"""Conversation memory of the Telegram bot: each chat's recent turns, one small JSON file per chat.

Written on every turn (atomically, via a temporary file and a rename), so the
history survives a restart or a crash of the bot; bounded to the last
``keep`` turns.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from bot.models import Turn

logger = logging.getLogger(__name__)


class ChatStore:
    """The recent turns of every chat, kept under ``directory``."""

    def __init__(self, directory: Path, keep: int) -> None:
        self._directory = directory
        self._keep = keep

    def _path(self, chat_id: int) -> Path:
        return self._directory / f"{chat_id}.json"

    def history(self, chat_id: int) -> tuple[Turn, ...]:
        """The chat's remembered turns, oldest first; empty when none or the file is unreadable."""
        path = self._path(chat_id)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            turns = tuple(
                Turn(
                    question=str(t["question"]),
                    answer=str(t["answer"]),
                    language=str(t.get("language", "en")),
                )
                for t in raw["turns"]
            )
        except FileNotFoundError:
            return ()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("Ignoring unreadable chat history %s: %s", path.name, exc)
            return ()
        return turns[-self._keep :] if self._keep else ()

    def append(self, chat_id: int, turn: Turn) -> None:
        """Remember one more turn, forgetting the oldest beyond ``keep``."""
        if self._keep == 0:
            return
        turns = [*self.history(chat_id), turn][-self._keep :]
        self._write(chat_id, turns)

    def reset(self, chat_id: int) -> None:
        """Forget the chat's history."""
        self._path(chat_id).unlink(missing_ok=True)

    def _write(self, chat_id: int, turns: list[Turn]) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "chat_id": chat_id,
            "turns": [{"question": t.question, "answer": t.answer, "language": t.language} for t in turns],
        }
        fd, tmp = tempfile.mkstemp(dir=self._directory, prefix=f".{chat_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, ensure_ascii=False)
            os.replace(tmp, self._path(chat_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
