"""Reply step, HTTP side: what clients send (OpenAI's chat request, the native question) and how it becomes a conversation.

The server keeps no conversation: the request carries it. In OpenAI's form the last user message
is the question and the earlier user/assistant pairs are the history that follow-up questions are
condensed with; system messages are newsbot's own business and are ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Turn
from bot.server.access import ApiError
from bot.server.answer_view import turn
from index.text.language import detect_language

MODEL = "newsbot"
"""The one model the OpenAI-compatible API serves."""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text; of a list of parts, the text parts joined."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "\n".join(str(part.get("text", "")) for part in parts if part.get("type") == "text")


class ChatRequest(BaseModel):
    """OpenAI's chat completion request; parameters newsbot has no use for (temperature, …) are accepted."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    n: int = 1


class HistoryTurn(BaseModel):
    question: str
    answer: str


class AnswerRequest(BaseModel):
    """The native question: the question, the conversation before it, and whether to stream events."""

    model_config = ConfigDict(extra="forbid")

    question: str
    history: list[HistoryTurn] = Field(default_factory=list)
    stream: bool = False


def _checked(question: str, limit: int) -> str:
    if not question.strip():
        raise ApiError(400, "the question is empty", "empty_question")
    if len(question) > limit:
        raise ApiError(
            400, f"the question is {len(question)} characters long; the limit is {limit}", "question_too_long"
        )
    return question


def _turns(pairs: list[tuple[str, str]], keep: int) -> list[Turn]:
    kept = pairs[-keep:] if keep else []
    return [turn(question, answer, detect_language(question, "en")) for question, answer in kept]


def chat_conversation(request: ChatRequest, *, limit: int, keep: int) -> tuple[str, list[Turn]]:
    """The question (the last user message) and the history before it, of an OpenAI chat request."""
    spoken = [(m.role, m.text()) for m in request.messages if m.role in ("user", "assistant")]
    if not spoken or spoken[-1][0] != "user":
        raise ApiError(400, "the last message must be the user's question", "invalid_messages")
    pairs: list[tuple[str, str]] = []
    asked: str | None = None
    for role, text in spoken[:-1]:
        if role == "user":
            asked = text if asked is None else f"{asked}\n{text}"
        elif asked is not None:
            pairs.append((asked, text))
            asked = None
    return _checked(spoken[-1][1], limit), _turns(pairs, keep)


def native_conversation(request: AnswerRequest, *, limit: int, keep: int) -> tuple[str, list[Turn]]:
    """The question and history of a native request."""
    return _checked(request.question, limit), _turns([(t.question, t.answer) for t in request.history], keep)
