"""Regenerate `.env.example` and print the README settings table from `bot.config.Settings`.

Run: .venv/bin/python scripts/settings_docs.py > /tmp/table.md  (then paste the table into README.md)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402


def _default(field: FieldInfo) -> str:
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is None:
        return ""
    if isinstance(value, list):
        return "[]"
    return str(value)


def settings_fields() -> Iterator[tuple[str, str, str, str]]:
    """(section, variable, default, description) for every setting."""
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for sub, subfield in annotation.model_fields.items():
                yield (
                    name,
                    f"NEWSBOT_{name.upper()}__{sub.upper()}",
                    _default(subfield),
                    subfield.description or "",
                )
        else:
            yield "general", f"NEWSBOT_{name.upper()}", _default(field), field.description or ""


def env_example() -> str:
    lines = [
        "# newsbot settings: copy to .env and uncomment what you change.",
        "# Environment variables NEWSBOT_… override .env; nested sections use a double underscore.",
        "# Lists are JSON, e.g. NEWSBOT_TELEGRAM__ADMINS=[123456789]",
    ]
    section = None
    for name, variable, default, description in settings_fields():
        if name != section:
            lines.append(f"\n# --- {name} ---")
            section = name
        lines.append(f"# {description}")
        lines.append(f"# {variable}={default}")
    return "\n".join(lines) + "\n"


def readme_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for _, variable, default, description in settings_fields():
        rows.append(
            f"| `{variable}` | `{default}` | {description} |"
            if default
            else f"| `{variable}` | | {description} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    (ROOT / ".env.example").write_text(env_example(), encoding="utf-8")
    print(readme_table())
