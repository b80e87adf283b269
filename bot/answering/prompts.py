"""Prompt step: the LLM's templates and the answerer's fixed phrases, loaded from the ``prompts/`` folder.

Templates are ``prompts/<name>.j2`` (Jinja2, ``StrictUndefined``: a missing
variable is an error, never an empty string); a template may ``{% extends %}``
another by its name. Phrases are ``prompts/phrases/<group>.<lang>.toml``; every
group of one language is merged into one table, so a key may live in one group
only. The folder is the ``prompts`` package's data, read through
``importlib.resources``, so a checkout, an editable install and an installed
wheel all find it.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from typing import Any

import jinja2

from bot.checks.markers import FOREIGN, strip_markers
from bot.errors import PromptError
from index.errors import ConfigError
from index.text.language import language_code
from index.text.lexicon import prompts_directory

logger = logging.getLogger(__name__)


def default_directory() -> Traversable:
    """The ``prompts/`` folder shipped with newsbot: the ``prompts`` package's data."""
    return prompts_directory()


FALLBACK_LANGUAGE = "en"

_PHRASE_FILE = re.compile(r"^(?P<group>[a-z0-9_]+)\.(?P<lang>[a-z]{2,3})$")


def _unmarked(text: object) -> str:
    """Template filter: the text without its ``[n]`` citation markers (history fed back to the model)."""
    return strip_markers(str(text)).strip()


# The labels that structure our prompts ("Question:", "Evidence:", "Answer in …", the article delimiters).
_PROMPT_LABEL = re.compile(
    r"\b(question|evidence|answer|rules?|system|user|assistant|article|instructions?)(\s*)(:)", re.IGNORECASE
)
_DELIMITER = re.compile(r"</?\s*article\b[^>]*>|<{2,}|>{2,}|-{3,}|={3,}|#{2,}|`{3,}")


def inert(text: object) -> str:
    """Text from an article or a user made safe to quote in a prompt: data, never structure.

    One line (newlines would let it start a forged ``Question:`` or evidence line); no citation
    markers (an article saying "… on the Moon [1][2][3]." would hand its claim to other articles'
    numbers); prompt labels defused ("Question:" → "Question -") and delimiter runs removed.
    """
    line = " ".join(str(text).split())
    line = FOREIGN.sub("", line)
    line = _PROMPT_LABEL.sub(r"\1 -", line)
    return " ".join(_DELIMITER.sub(" ", line).split())


class Prompts:
    """Rendered templates and per-language phrases; built by ``load_prompts``."""

    def __init__(
        self,
        templates: Mapping[str, str],
        phrases: Mapping[str, Mapping[str, str]],
        directory: Traversable | None = None,
    ) -> None:
        self.directory = directory
        self._tables: dict[str, dict[str, Any]] = {}
        self._sources = dict(templates)
        self._phrases = {lang: dict(table) for lang, table in phrases.items()}
        self._env = jinja2.Environment(
            loader=jinja2.DictLoader(self._sources),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["unmarked"] = _unmarked
        self._env.filters["inert"] = inert

    def template_names(self) -> set[str]:
        """Names of every template (file names without ``.j2``)."""
        return set(self._sources)

    def render(self, name: str, **variables: object) -> str:
        """The template ``name`` filled with ``variables``; raises PromptError if one it uses is missing."""
        if name not in self._sources:
            raise PromptError(f"no prompt template {name!r}; known: {', '.join(sorted(self._sources))}")
        try:
            text = self._env.get_template(name).render(**variables)
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt template {name!r} needs a variable that was not given: {exc}") from exc
        # Blank runs left by the template's layout are noise to the model.
        return re.sub(r"\n{3,}", "\n\n", text).strip()

    def table(self, name: str) -> dict[str, Any]:
        """The TOML data file ``name`` of the prompts folder (worked examples, cue lists), read once."""
        if name not in self._tables:
            if self.directory is None:
                raise PromptError(f"no prompts folder to read {name!r} from")
            path = self.directory / name
            try:
                self._tables[name] = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise PromptError(f"cannot read prompt data file {path}: {exc}") from exc
        return self._tables[name]

    def phrase(self, key: str, lang: str) -> str:
        """The fixed text ``key`` in ``lang``, else in English; KeyError if English lacks it too."""
        table = self._phrases.get(language_code(lang), {})
        if key in table:
            return table[key]
        fallback = self._phrases.get(FALLBACK_LANGUAGE, {})
        if key in fallback:
            return fallback[key]
        raise KeyError(f"no phrase {key!r} in prompts/phrases for {lang!r} or {FALLBACK_LANGUAGE!r}")

    def phrases(self, lang: str) -> dict[str, str]:
        """Every phrase of ``lang`` (English where it has none)."""
        return {**self._phrases.get(FALLBACK_LANGUAGE, {}), **self._phrases.get(language_code(lang), {})}

    def languages(self) -> set[str]:
        """Languages that have at least one phrase file."""
        return set(self._phrases)


def _load_phrase_file(path: Traversable) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read phrase file {path}: {exc}") from exc
    table: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"phrase {key!r} in {path} must be a string, not {type(value).__name__}")
        table[key] = value
    return table


def _files(folder: Traversable, suffix: str) -> list[Traversable]:
    """The files of ``folder`` ending in ``suffix``, by name."""
    found = [item for item in folder.iterdir() if item.name.endswith(suffix) and item.is_file()]
    return sorted(found, key=lambda item: item.name)


def load_prompts(directory: Traversable | None = None) -> Prompts:
    """Read every template and phrase file under ``directory`` (default: the ``prompts/`` shipped with newsbot)."""
    folder = directory if directory is not None else default_directory()
    if not folder.is_dir():
        raise ConfigError(
            f"prompt folder {folder} does not exist: it must hold the *.j2 templates and phrases/"
        )
    templates = {
        path.name.removesuffix(".j2"): path.read_text(encoding="utf-8") for path in _files(folder, ".j2")
    }
    if not templates:
        raise ConfigError(f"prompt folder {folder} has no *.j2 templates")

    phrases: dict[str, dict[str, str]] = {}
    origin: dict[tuple[str, str], Traversable] = {}
    phrase_dir = folder / "phrases"
    for path in _files(phrase_dir, ".toml") if phrase_dir.is_dir() else []:
        match = _PHRASE_FILE.match(path.name.removesuffix(".toml"))
        if match is None:
            raise ConfigError(f"phrase file {path} must be named <group>.<lang>.toml, e.g. answer.en.toml")
        lang = match["lang"]
        table = phrases.setdefault(lang, {})
        for key, value in _load_phrase_file(path).items():
            if (lang, key) in origin:
                raise ConfigError(
                    f"phrase {key!r} ({lang}) is defined twice: in {origin[lang, key]} and {path}"
                )
            origin[lang, key] = path
            table[key] = value
    logger.debug("loaded %d templates and phrases in %s from %s", len(templates), sorted(phrases), folder)
    return Prompts(templates, phrases, folder)
