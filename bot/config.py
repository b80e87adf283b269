"""The one place configuration comes from: ``NEWSBOT_…`` environment variables or ``.env``.

Built once in the entry point (``Settings()``) and passed down; tests build it
with arguments and ``_env_file=None``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.config import EmbeddingSettings, FeedSettings, FetchSettings, IndexSettings


def listed(value: Any, example: str) -> Any:
    """A list setting from the environment: a JSON list, or items separated by commas or spaces."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(example) from None
    return text.replace(",", " ").split()


class RetrievalSettings(BaseModel):
    """How passages are found and when a question counts as not covered."""

    top_k: int = Field(5, ge=1, le=50, description="Articles (sources) kept per question.")
    candidates: int = Field(
        40, ge=5, le=500, description="Chunks each ranker (dense, keyword) returns before fusion."
    )
    min_score: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Relevance threshold on the best passage's cosine similarity; below it the bot says the "
        "articles don't cover the question. Default: calibrated for the embedding model in use "
        "(bot/answering/retrieval.py CALIBRATED_MIN_SCORE; 0.79 for a model not calibrated there).",
    )
    min_keyword_coverage: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="A question is also relevant when one chunk holds this share of its terms (IDF-weighted), "
        "e.g. a name asked on its own.",
    )
    keyword_weight: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="Weight of the keyword match (cube of the share of the question's terms a chunk holds) "
        "added to its cosine similarity.",
    )
    recency_weight: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="When a question asks for the latest news (prompts/lexicon/recency.toml), a chunk's score gains "
        "this weight times its article's freshness (1 for the newest article, halving every "
        "recency_half_life_days before it); 0 turns it off.",
    )
    recency_half_life_days: float = Field(
        7.0, gt=0, description="Days before the newest article at which the recency boost is halved."
    )
    evidence_sentences: int = Field(6, ge=1, le=40, description="Evidence sentences put into the LLM prompt.")
    max_question_chars: int = Field(
        1000,
        ge=50,
        le=100_000,
        description="Longer questions are cut to this many characters before retrieval and the prompt.",
    )
    exact_search_limit: int = Field(
        100_000,
        ge=0,
        description="Up to this many chunks the dense search is exact, over the embeddings held in memory "
        "(~1.5 KB a chunk); above it Chroma's approximate HNSW index answers.",
    )


class LLMSettings(BaseModel):
    """Which answerer writes the reply and how to reach it."""

    provider: Literal["local", "openai", "extractive"] = Field(
        "local",
        description="local: bundled Qwen2.5 1.5B via xllamacpp; openai: any OpenAI-compatible server; extractive: no LLM.",
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1 (provider=openai)."
    )
    model: str = Field("gpt-4o-mini", description="Chat model name sent to the server (provider=openai).")
    api_key: SecretStr | None = Field(None, description="API key for the chat server (provider=openai).")
    model_path: Path | None = Field(
        None, description="A GGUF file to serve instead of the bundled model (provider=local)."
    )
    cache_dir: Path | None = Field(
        None, description="Where the bundled model is assembled (default: ~/.cache/newsbot)."
    )
    port: int = Field(
        0, ge=0, le=65535, description="Loopback port of the local model server (0: pick a free one)."
    )
    threads: int | None = Field(None, ge=1, description="CPU threads for the local model (default: all).")
    context_size: int = Field(4096, ge=512, description="Context window of the local model, in tokens.")
    temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(320, ge=16, le=8192, description="Longest answer, in tokens.")
    allow_refusal: bool | None = Field(
        None,
        description="Offer the model the reply that the articles don't cover a question on its first attempt "
        "(default: yes for openai, no for local, whose small model refuses answerable questions). A retry after "
        "an empty answer, or one stating a figure no evidence holds, is always offered it; the relevance "
        "threshold still applies.",
    )
    composition: Literal["auto", "typed", "cited"] = Field(
        "auto",
        description=(
            "What the model writes under the quotes. typed: only a short typed answer (a figure, date, "
            "name or place) copied from the best quote and confirmed by the model's own yes/no "
            "probability, never a free sentence; cited: free text with [n] markers, checked, one retry "
            "(for a capable model on an OpenAI-compatible server). auto: typed for the bundled local "
            "model, cited for provider=openai."
        ),
    )
    repeat_penalty: float = Field(
        1.1, ge=1.0, le=2.0, description="llama.cpp's penalty on repeated tokens (provider=local only)."
    )
    quote_first: bool = Field(
        True,
        description="Show the best answering quote as soon as the evidence is known, before the model's answer.",
    )
    timeout: float = Field(120.0, gt=0, description="Seconds before one LLM request times out.")
    retries: int = Field(
        2, ge=0, le=10, description="Retries after a timeout, refused connection, 429 or 5xx."
    )
    startup_timeout: float = Field(
        180.0, gt=0, description="Seconds to wait for the local model server to come up."
    )


class ChatSettings(BaseModel):
    """Conversation memory."""

    history_turns: int = Field(6, ge=0, le=50, description="Recent question/answer turns kept per chat.")


class TelegramSettings(BaseModel):
    """The Telegram bot."""

    token: SecretStr | None = Field(None, description="Bot token from @BotFather (secret).")
    base_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base URL (change for a self-hosted Bot API server).",
    )
    allowed_users: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="User ids allowed to ask; empty means everyone."
    )
    admins: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="User ids allowed to /reindex and upload articles."
    )
    rate_limit: int = Field(10, ge=1, description="Questions one user may ask per rate_window.")
    rate_window: float = Field(60.0, gt=0, description="Seconds of the per-user rate-limit window.")
    max_upload_bytes: int = Field(
        1_000_000, ge=1_000, description="Largest article file an admin may upload."
    )
    drafts: bool = Field(
        True,
        description="Stream answers in private chats as a draft (sendMessageDraft) that one final message "
        "replaces; false, or when the Bot API refuses drafts: send a message and edit it, as in groups.",
    )
    quoted_answers: int = Field(
        100,
        ge=0,
        le=10_000,
        description="Answers per chat whose source buttons keep working, also after a restart (their quoted "
        "sentences are stored with the chat's history); older buttons say the answer has expired. 0: no buttons.",
    )
    webhook_url: str | None = Field(
        None, description="Public HTTPS URL for webhook mode; unset means long polling."
    )
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8443, ge=1, le=65535, description="Port the webhook server listens on.")
    webhook_secret: SecretStr | None = Field(
        None, description="Secret token Telegram sends with each webhook call."
    )

    @field_validator("allowed_users", "admins", mode="before")
    @classmethod
    def _id_list(cls, value: Any) -> Any:
        """A JSON list ("[1, 2]") or, as people write it anyway, ids separated by commas or spaces."""
        return listed(value, "expected a JSON list of user ids, e.g. [123456789, 987654321]")


class FollowSettings(BaseModel):
    """Follows: alerts when new articles concern a chat's standing question, and the digest of what is new."""

    min_score: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="The bar an article's best sentence must reach (cosine similarity with the follow) to be "
        "alerted. Default: calibrated for the embedding model in use (bot/follow/matching.py CALIBRATED_BAR).",
    )
    max_per_hour: int = Field(
        6, ge=0, le=1000, description="Alerts one chat gets per hour at most; the rest wait for its digest."
    )
    max_per_chat: int = Field(20, ge=1, le=200, description="Follows one chat may keep.")
    story_window_hours: float = Field(
        48.0,
        gt=0,
        description="Articles whose lead sentences are close and that arrived within this many hours of each "
        "other are one story: one alert, one digest entry, listing every source.",
    )
    story_min_similarity: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="How close two articles' leads must be (cosine) to be one story. Default: calibrated for "
        "the embedding model in use (bot/follow/stories.py CALIBRATED_SAME_STORY).",
    )
    check_seconds: float = Field(
        30.0,
        gt=0,
        description="How often the Telegram bot looks for articles another process indexed (`newsbot reindex`, "
        "`newsbot feeds`); its own polls, uploads and links are checked at once.",
    )
    timezone: str = Field(
        "UTC", description="Time zone of the daily digest times (`/digest daily 08:00`), e.g. Europe/Kyiv."
    )
    digest_stories: int = Field(30, ge=1, le=200, description="Stories shown in one digest at most.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: expected an IANA name such as Europe/Kyiv") from None
        return value


class ServerSettings(BaseModel):
    """The HTTP API and web page (`newsbot serve`)."""

    host: str = Field(
        "127.0.0.1",
        description="Address `newsbot serve` listens on; any other than a loopback one needs api_keys.",
    )
    port: int = Field(8080, ge=1, le=65535, description="Port `newsbot serve` listens on.")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Keys a client sends as `Authorization: Bearer KEY` (a JSON list or separated by commas); "
        "empty: only loopback clients are served.",
    )
    admin_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Keys that may also call POST /v1/reindex; with no keys at all, loopback clients may.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description='Web origins whose pages may call the API from a browser, e.g. ["https://chat.example.org"].',
    )
    max_body_bytes: int = Field(
        262_144, ge=1_024, le=100_000_000, description="Largest request body; a larger one gets 413."
    )
    max_question_chars: int = Field(
        4000, ge=1, le=100_000, description="Longest question accepted; a longer one gets 400."
    )
    rate_limit: int = Field(
        60, ge=0, description="Requests one API key (or one loopback address) may make per rate_window; 0: no limit."
    )
    rate_window: int = Field(60, ge=1, description="Seconds of the per-key rate-limit window.")
    concurrency: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Answers written at once (default: 1 with provider=local, whose model serves one request "
        "at a time; 8 with openai; one per CPU core with extractive).",
    )
    queue_size: int | None = Field(
        None,
        ge=0,
        description="Requests waiting for an answer slot; past it the reply is 503 with Retry-After "
        "(default: 4 with provider=local; no limit otherwise).",
    )
    queue_timeout: float = Field(
        60.0, gt=0, description="Seconds a request may wait for an answer slot before it gets 503 with Retry-After."
    )
    answer_cache_size: int = Field(
        1000, ge=0, description="Finished answers kept to answer the same conversation again; 0: none."
    )
    answer_cache_seconds: float = Field(
        60.0,
        ge=0,
        description="Seconds a kept answer is reused (a reindex through the API forgets them all at once).",
    )

    @field_validator("api_keys", "admin_keys", "cors_origins", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        """A JSON list or, as people write it anyway, items separated by commas or spaces."""
        return listed(value, 'expected a JSON list, e.g. ["first", "second"]')


class Settings(BaseSettings):
    """Every setting of newsbot; see `.env.example` and the README table."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    index: IndexSettings = Field(default_factory=IndexSettings)  # type: ignore[arg-type]
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)  # type: ignore[arg-type]
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)  # type: ignore[arg-type]
    llm: LLMSettings = Field(default_factory=LLMSettings)  # type: ignore[arg-type]
    chat: ChatSettings = Field(default_factory=ChatSettings)  # type: ignore[arg-type]
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)  # type: ignore[arg-type]
    fetch: FetchSettings = Field(default_factory=FetchSettings)  # type: ignore[arg-type]
    feeds: FeedSettings = Field(default_factory=FeedSettings)  # type: ignore[arg-type]
    follow: FollowSettings = Field(default_factory=FollowSettings)  # type: ignore[arg-type]
    server: ServerSettings = Field(default_factory=ServerSettings)  # type: ignore[arg-type]
    log_level: str = Field(
        "WARNING", description="Logging level of the entry points: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level
