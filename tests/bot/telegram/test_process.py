"""`newsbot telegram` as a real process, long-polling a small fake Bot API server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BOT = {"id": 987654321, "is_bot": True, "first_name": "Newsbot", "username": "newsbot_test_bot"}
USER = {"id": 1001, "is_bot": False, "first_name": "Ann", "language_code": "en"}
QUESTION = "When did Lyon open its new tram line?"

LYON = """Lyon opens a new tram line

Lyon opened its new T10 tram line on 3 March 2024. The line links the Gare de Vénissieux with the
Gerland district in eleven minutes. The city says the tram line will carry 30,000 passengers a day.

The T10 tram line cost 245 million euros and runs every six minutes at peak hours.
"""

HARVEST = """Poor olive harvest in Andalusia

Olive growers in Andalusia expect their smallest harvest in a decade after a hot, dry spring.
Prices of olive oil in Spanish shops rose by a third over the year, farmers' unions said.
"""


class FakeBotAPI(ThreadingHTTPServer):
    """Enough of the Bot API: one question from getUpdates, then empty long polls; records the rest."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.delivered = False
        self.lock = threading.Lock()
        self.message_ids = iter(range(100, 10_000))

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def record(self, method: str, fields: dict[str, str]) -> None:
        with self.lock:
            self.calls.append((method, fields))

    def sent(self) -> list[dict[str, str]]:
        with self.lock:
            return [f for m, f in self.calls if m in ("sendMessage", "editMessageText")]


class _Handler(BaseHTTPRequestHandler):
    server: FakeBotAPI

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        _, _, method = self.path.rpartition("/")
        fields = dict(parse_qsl(body))
        if not self.path.startswith(f"/bot{TOKEN}/"):
            self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        self.server.record(method, fields)
        self._reply(200, {"ok": True, "result": self._result(method, fields)})

    def _result(self, method: str, fields: dict[str, str]) -> Any:
        if method == "getMe":
            return BOT
        if method == "getUpdates":
            if not self.server.delivered:
                self.server.delivered = True
                chat = {"id": USER["id"], "type": "private", "first_name": "Ann"}
                message = {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": chat,
                    "from": USER,
                    "text": QUESTION,
                }
                return [{"update_id": 1, "message": message}]
            time.sleep(min(float(fields.get("timeout", "0")), 0.5))
            return []
        if method in ("sendMessage", "editMessageText"):
            chat = {"id": int(fields["chat_id"]), "type": "private", "first_name": "Ann"}
            message_id = int(fields.get("message_id") or next(self.server.message_ids))
            return {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat,
                "from": BOT,
                "text": fields["text"],
            }
        return True

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a long poll cut short at shutdown
            self.wfile.write(data)


@pytest.fixture
def bot_api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _command() -> list[str]:
    script = shutil.which("newsbot", path=str(Path(sys.executable).parent))
    if script is not None:
        return [script, "telegram"]
    return [
        sys.executable,
        "-c",
        "import sys; from bot.cli import main; sys.argv = ['newsbot', 'telegram']; main()",
    ]


@pytest.mark.slow
@pytest.mark.skipif(
    not (ROOT / "bot" / "cli.py").exists(), reason="bot/cli.py (`newsbot telegram`) not written yet"
)
def test_newsbot_telegram_answers_a_question_with_citations(tmp_path: Path, bot_api: FakeBotAPI) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lyon-tram.txt").write_text(LYON, encoding="utf-8")
    (corpus / "olive-harvest.txt").write_text(HARVEST, encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")},
        "NEWSBOT_TELEGRAM__TOKEN": TOKEN,
        "NEWSBOT_TELEGRAM__BASE_URL": f"http://127.0.0.1:{bot_api.port}/bot",
        "NEWSBOT_LLM__PROVIDER": "extractive",
        "NEWSBOT_EMBEDDING__BACKEND": "use",
        "NEWSBOT_INDEX__CORPUS_DIR": str(corpus),
        "NEWSBOT_INDEX__DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_RETRIEVAL__MIN_SCORE": "0.3",  # this test is about the plumbing, not the relevance threshold
        "NEWSBOT_LOG_LEVEL": "DEBUG",
        "PYTHONPATH": str(ROOT),
    }
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            _command(),
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 180
            final: dict[str, str] | None = None
            while final is None and time.monotonic() < deadline and process.poll() is None:
                final = next((f for f in bot_api.sent() if f.get("parse_mode") == "HTML"), None)
                time.sleep(0.2)
            log = stderr_path.read_text(errors="replace")
            assert final is not None, f"no final answer (exit code {process.poll()}); stderr:\n{log[-4000:]}"
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    assert int(final["chat_id"]) == USER["id"]
    assert "<b>[1]</b>" in final["text"]
    assert "<b>Sources</b>" in final["text"]
    assert "Lyon opens a new tram line" in final["text"]
    assert "T10" in final["text"] or "3 March 2024" in final["text"]
    buttons = [b for row in json.loads(final["reply_markup"])["inline_keyboard"] for b in row]
    assert buttons[0]["text"].startswith("[1] Lyon opens a new tram")
    assert all(
        b["callback_data"].startswith("cite:") and len(b["callback_data"].encode()) <= 64 for b in buttons
    )
    methods = [m for m, _ in bot_api.calls]
    assert methods[0] == "getMe"
    assert "sendChatAction" in methods
    log = stderr_path.read_text(errors="replace")
    assert TOKEN.split(":")[1] not in log, "the bot token leaked into the log"
    assert "Error while handling an update" not in log
