"""Reply step, HTTP side: the server's Prometheus metrics (GET /metrics), one registry per application."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0)


class Metrics:
    """Requests, latencies, refusals, fallbacks to quotes, the queue: what an operator watches."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "newsbot_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "newsbot_http_request_duration_seconds",
            "Time to the whole response (streamed ones: to their last byte), by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "newsbot_answers", "Answers written, by mode.", ["mode"], registry=self.registry
        )
        self.answer_latency = Histogram(
            "newsbot_answer_duration_seconds",
            "Time to write one answer (not counting the queue or kept answers).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.first_text = Histogram(
            "newsbot_answer_first_text_seconds",
            "Time from the request to the first text a streamed answer sends.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "newsbot_refusals",
            "Answers saying the articles don't cover the question.",
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "newsbot_fallbacks",
            "Answers meant to come from the model that are quotes only (model unreachable or nothing held up).",
            registry=self.registry,
        )
        self.cached = Counter(
            "newsbot_cached_answers",
            "Requests answered from the kept answers, or sharing one being written for the same conversation.",
            registry=self.registry,
        )
        self.rejected = Counter(
            "newsbot_rejected",
            "Requests refused before answering, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.queue = Gauge(
            "newsbot_queue_length", "Requests waiting for an answer slot.", registry=self.registry
        )
        self.running = Gauge("newsbot_answers_in_progress", "Answers being written.", registry=self.registry)
