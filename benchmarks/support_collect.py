"""Collect answer statements with the evidence they cite, for labelling the support checker's benchmark.

Run: .venv/bin/python benchmarks/support_collect.py QUESTIONS.jsonl [...] --out raw.jsonl
     [--runs answer:0.1,answer:0.9,strict:0.3]

For each question it runs the answering pipeline's pieces one by one (condense by rule → retrieve →
select_evidence → number_evidence → prompt → generate), once per run: ``answer`` is the first attempt,
``strict`` the stricter retry (offered the refusal, as for an OpenAI-style model), fed the problems the
checks found in the first attempt or a generic one. Each statement sentence of each reply becomes one
line: question id, set (the file's stem), language, run, statement, its markers and the cited evidence
sentences verbatim (with each cited article's title and date). Uses NEWSBOT_* settings; the local model
by default. Lines are appended as they come, so a long run can be labelled while it goes on.

``--from-eval ANSWERS.jsonl`` instead reads the answers of a ``newsbot eval --json`` run of the local
model on the same questions and corpus (mode ``local`` only, single-turn questions only) and recomputes
the evidence each one was given (retrieval and evidence selection are deterministic), mapping the
answer's renumbered markers back through its citations' article ids; those lines have run ``eval``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import zip_longest
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answering.conversation import rule_condense  # noqa: E402
from bot.answering.evidence import number_evidence, select_evidence  # noqa: E402
from bot.checks.citations import check_answer, statement_sentences  # noqa: E402
from bot.checks.markers import markers  # noqa: E402
from bot.compose.cited import answer_messages, unsupported_numbers  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.evaluation import load_questions  # noqa: E402
from bot.models import Turn  # noqa: E402
from bot.service import Newsbot  # noqa: E402
from index.errors import NewsbotError  # noqa: E402
from index.text.language import detect_language, language_name  # noqa: E402

GENERIC_PROBLEM = "Some sentences may state things the cited evidence does not say."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("questions", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--from-eval", nargs="*", help="eval --json outputs of the local model to import")
    parser.add_argument("--runs", default="answer:0.1,answer:0.9,strict:0.3")
    args = parser.parse_args()

    settings = Settings()  # type: ignore[call-arg]
    if args.from_eval:
        _from_eval(settings, args.questions, args.from_eval, args.out)
        return
    runs = [(name, float(temperature)) for name, temperature in (r.split(":") for r in args.runs.split(","))]
    with Newsbot(settings) as bot, open(args.out, "a", encoding="utf-8") as out:
        bot.ensure_index()
        pipeline = bot.pipeline()
        generator = pipeline.generator
        assert generator is not None, "set a provider with a model (local or openai)"
        prepared: list[dict[str, Any]] = []
        for path in args.questions:
            for question in load_questions(Path(path)):
                history = [Turn(t, "") for t in question.turns[:-1]]
                standalone = rule_condense(question.turns[-1], history)
                language = detect_language(question.turns[-1], default="en")
                retrieval = pipeline.retriever.retrieve(standalone)
                if not retrieval.relevant:
                    print(f"{question.id}: not relevant, skipped", file=sys.stderr)
                    continue
                evidence = select_evidence(
                    standalone,
                    retrieval.passages,
                    limit=pipeline.evidence_sentences,
                    query_vector=retrieval.query_vector or None,
                    embedder=pipeline.retriever.embedder,
                )
                groups, sources = number_evidence(evidence)
                prepared.append(
                    {"q": question, "set": Path(path).stem, "question": standalone, "language": language,
                     "groups": groups, "sources": sources, "first": None}
                )  # fmt: skip
        # Dev and held-out questions in turn, so both halves grow together; all runs of one question
        # back to back, so the server's prompt cache reuses the evidence it has already read.
        dev = [item for item in prepared if item["set"] == prepared[0]["set"]]
        rest = [item for item in prepared if item["set"] != prepared[0]["set"]]
        interleaved = [item for pair in zip_longest(dev, rest) for item in pair if item is not None]
        for item in interleaved:
            for run, temperature in runs:
                groups, language = item["groups"], item["language"]
                not_covered = pipeline.prompts.phrase("not_covered", language)
                variables: dict[str, object] = {
                    "groups": groups, "question": item["question"], "language": language_name(language),
                    "not_covered": not_covered,
                }  # fmt: skip
                if run == "strict":
                    first = item["first"] or ""
                    check = check_answer(first, len(groups), language, not_covered=[not_covered])
                    problems = list(
                        check.problems if not check.ok else unsupported_numbers(check.text, groups)
                    )
                    messages = answer_messages(
                        pipeline, "answer_strict", allow_refusal=True, **variables,
                        problems=problems or [GENERIC_PROBLEM],
                    )  # fmt: skip
                else:
                    messages = answer_messages(
                        pipeline, "answer", allow_refusal=pipeline.allow_refusal, **variables, problems=[]
                    )
                started = time.monotonic()
                try:
                    text = generator.complete(
                        messages, max_tokens=pipeline.max_tokens, temperature=temperature
                    )
                except NewsbotError as exc:
                    print(f"{item['q'].id} {run}: {exc}", file=sys.stderr)
                    continue
                print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
                if run == "answer" and item["first"] is None:
                    item["first"] = text
                check = check_answer(text, len(groups), language, not_covered=[not_covered])
                by_marker = {g.marker: g for g in groups}
                question = item["q"]
                print(f"{question.id} {run}@{temperature}: {check.text!r}", file=sys.stderr)
                if check.not_covered:
                    continue
                for sentence in statement_sentences(check.text):
                    cited = [by_marker[m] for m in dict.fromkeys(markers(sentence)) if m in by_marker]
                    record = {
                        "qid": question.id, "set": item["set"], "lang": language, "run": f"{run}@{temperature}",
                        "question": item["question"], "statement": sentence, "markers": markers(sentence),
                        "evidence": [s for g in cited for s in g.sentences],
                        "cited": [{"marker": g.marker, "title": g.title, "date": g.date,
                                   "sentences": list(g.sentences)} for g in cited],
                        "answer": check.text,
                    }  # fmt: skip
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    out.flush()


def _from_eval(settings: Settings, question_files: list[str], answer_files: list[str], out_path: str) -> None:
    questions = {q.id: (q, Path(path).stem) for path in question_files for q in load_questions(Path(path))}
    bot = Newsbot(settings)
    bot.ensure_index()
    pipeline = bot.pipeline() if settings.llm.provider == "extractive" else None
    assert pipeline is not None, "run the import with NEWSBOT_LLM__PROVIDER=extractive"
    with open(out_path, "a", encoding="utf-8") as out:
        for path in answer_files:
            for line in Path(path).read_text(encoding="utf-8").splitlines():
                answer = json.loads(line)
                question, stem = questions[answer["id"]]
                if answer["mode"] != "local" or answer["refused"] or len(question.turns) > 1:
                    continue
                retrieval = pipeline.retriever.retrieve(question.turns[-1])
                evidence = select_evidence(
                    question.turns[-1],
                    retrieval.passages,
                    limit=pipeline.evidence_sentences,
                    query_vector=retrieval.query_vector or None,
                    embedder=pipeline.retriever.embedder,
                )
                groups, _sources = number_evidence(evidence)
                by_article = {g.article_id: g for g in groups}
                article_of = {c["marker"]: c["article_id"] for c in answer["citations"]}
                for sentence in statement_sentences(answer["answer"]):
                    cited = [
                        by_article[article_of[m]]
                        for m in dict.fromkeys(markers(sentence))
                        if article_of.get(m) in by_article
                    ]
                    record = {
                        "qid": question.id, "set": stem, "lang": answer["language"], "run": "eval",
                        "question": question.turns[-1], "statement": sentence, "markers": markers(sentence),
                        "evidence": [s for g in cited for s in g.sentences],
                        "cited": [{"marker": g.marker, "title": g.title, "date": g.date,
                                   "sentences": list(g.sentences)} for g in cited],
                        "answer": answer["answer"],
                    }  # fmt: skip
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
