"""Reply step, HTTP side: run the application with uvicorn, refusing to serve other machines without keys."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import uvicorn

from bot.config import Settings
from bot.server.access import is_loopback
from bot.server.app import build_app
from index.errors import ConfigError

if TYPE_CHECKING:
    from bot.service import Newsbot

logger = logging.getLogger(__name__)


def check_binding(settings: Settings) -> None:
    """``ConfigError`` when the server would listen beyond this machine with no API keys to check."""
    server = settings.server
    if not is_loopback(server.host) and not (server.api_keys or server.admin_keys):
        raise ConfigError(
            f"NEWSBOT_SERVER__HOST={server.host} would serve other machines without API keys: "
            "set NEWSBOT_SERVER__API_KEYS, or listen on 127.0.0.1"
        )


def serve(settings: Settings, bot: Newsbot) -> None:
    """Serve the API and page until interrupted (the index open, the chat model started)."""
    check_binding(settings)
    app = build_app(settings, bot)
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,  # logging is the entry point's (bot.cli.configure_logging)
        access_log=False,  # /metrics counts requests; a line per request would drown the log
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
