"""Train the named-entity tagger (``ingest.extract.tagger``) on CoNLL-2003 with python-crfsuite.

    python -m ingest.train [--train PATH] [--dev PATH] [--out PATH]

Reads the CoNLL files in place (they are never copied into the project), turns each document back
into plain text exactly as ``conll_score.py`` does, and runs the tagger's own tokenizer, sentence
splitter and features over that text, so training sees what tagging will see. Gold labels are
projected onto our tokens by character offsets. A deterministic share of lines is rewritten in
title case or capitals (plus some stand-alone headline copies) so the model learns headline styles
that Reuters 1996 lacks; words seen once get no word-identity features, so the model learns what to
do with words it has never seen. The tagger runs the model twice over a text, the second time with
what the first pass said about the same words elsewhere in the text; to learn that, a jackknife
(models trained on three quarters of the documents label the other quarter) produces honest
first-pass labels, and sentences where they add anything are trained on a second time with those
document features. L-BFGS with a small c1/c2 grid, each model scored on the dev split
(entity-level, the conll_score.py rule); the best is written to ``--out`` with a README beside it.
Everything is seeded and ordered, so the same data and code give the same model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ingest.document import EntityKind
from ingest.extract.features import (
    GAZETTEER_DIR,
    GAZETTEER_PREFIX,
    Feature,
    Featurizer,
    Gazetteer,
    document_features,
    norm_word,
)
from ingest.extract.tagger import DEFAULT_MODEL_PATH, KINDS, Tagger
from ingest.extract.tokens import (
    FUNCTION_WORDS,
    NORMAL,
    TITLE,
    UPPER,
    Sentence,
    line_mode,
    sentences,
    tagger_tokens,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "conll2003"
SCORED = ("PER", "ORG", "LOC")

# The scorer's detokenisation rules (conll_score.py), so our text is the text it will hand us.
NO_SPACE_BEFORE = {
    ".",
    ",",
    ";",
    ":",
    "!",
    "?",
    ")",
    "]",
    "}",
    "%",
    "'s",
    "'S",
    "n't",
    "'",
    "'re",
    "'ve",
    "'ll",
    "'d",
    "'m",
}
NO_SPACE_AFTER = {"(", "[", "{", "$", "``"}

SEED = 20031
GRID = [(0.05, 0.05), (0.05, 0.1), (0.1, 0.05), (0.1, 0.1), (0.2, 0.05)]
MAX_ITERATIONS = 200
MIN_COUNT = 2
FOLDS = 4
JACKKNIFE = (0.1, 0.05)  # c1, c2 of the first-pass models that label the training set


# --------------------------------------------------------------------------------------------------
# Reading CoNLL
# --------------------------------------------------------------------------------------------------


@dataclass
class Document:
    text: str
    line_starts: list[int]  # character offset of each sentence's line
    token_spans: list[tuple[int, int]]
    entities: list[tuple[int, int, str]]  # character spans, MISC included
    gold: set[tuple[int, int, str]]  # (first token, last token, type), PER/ORG/LOC only
    tokens: int


def read_conll(path: Path) -> list[list[list[tuple[str, str]]]]:
    docs: list[list[list[tuple[str, str]]]] = [[]]
    sentence: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if parts and parts[0] != "-DOCSTART-":
                sentence.append((parts[0], parts[-1]))
                continue
            if sentence:
                docs[-1].append(sentence)
                sentence = []
            if parts:
                docs.append([])
    if sentence:
        docs[-1].append(sentence)
    return [d for d in docs if d]


def token_entities(tags: Sequence[str], starts: set[int]) -> list[tuple[int, int, str]]:
    """IOB1/IOB2 tags -> (first, last, type); an entity never crosses a sentence break."""
    entities: list[tuple[int, int, str]] = []
    open_start, open_type = 0, None
    for i, tag in enumerate([*tags, "O"]):
        kind = tag[2:] if tag != "O" else None
        begins = tag.startswith("B-") or kind != open_type or i in starts
        if open_type is not None and (kind is None or begins):
            entities.append((open_start, i - 1, open_type))
            open_type = None
        if kind is not None and open_type is None:
            open_start, open_type = i, kind
    return entities


def build_document(sentences_: list[list[tuple[str, str]]]) -> Document:
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    tags: list[str] = []
    line_starts: list[int] = []
    starts: set[int] = set()
    pos = 0
    for sentence in sentences_:
        if pieces:
            pieces.append("\n")
            pos += 1
        line_starts.append(pos)
        starts.add(len(tags))
        previous = None
        for token, tag in sentence:
            if previous is not None and token not in NO_SPACE_BEFORE and previous not in NO_SPACE_AFTER:
                pieces.append(" ")
                pos += 1
            pieces.append(token)
            spans.append((pos, pos + len(token)))
            pos += len(token)
            tags.append(tag)
            previous = token
    by_token = token_entities(tags, starts)
    entities = [(spans[a][0], spans[b][1], kind) for a, b, kind in by_token]
    gold = {e for e in by_token if e[2] in SCORED}
    return Document("".join(pieces), line_starts, spans, entities, gold, len(tags))


def load_documents(path: Path) -> list[Document]:
    return [build_document(d) for d in read_conll(path)]


# --------------------------------------------------------------------------------------------------
# Headline-style augmentation
# --------------------------------------------------------------------------------------------------


def _title_case_line(line: str, rng: random.Random) -> str:
    chars = list(line)
    tokens = tagger_tokens(line)
    keep_function_words = rng.random() < 0.7  # most styles leave "of", "in", "the" in lower case
    for k, token in enumerate(tokens):
        c = token.text[0]
        if not c.islower():
            continue
        if k > 0 and keep_function_words and token.text.lower().replace("’", "'") in FUNCTION_WORDS:
            continue
        if len(c.upper()) == 1:
            chars[token.start] = c.upper()
    return "".join(chars)


def _upper_line(line: str) -> str:
    return "".join(u if len(u := c.upper()) == 1 else c for c in line)


def _lines(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.split("\n"):
        spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def restyle(text: str, lines: dict[int, str], rng: random.Random) -> str:
    """Rewrite the given lines (index -> TITLE or UPPER); lengths and offsets are preserved."""
    spans = _lines(text)
    out = []
    for i, (s, e) in enumerate(spans):
        line = text[s:e]
        style = lines.get(i)
        if style == TITLE:
            line = _title_case_line(line, rng)
        elif style == UPPER:
            line = _upper_line(line)
        out.append(line)
    result = "\n".join(out)
    assert len(result) == len(text)
    return result


@dataclass
class Example:
    text: str
    entities: list[tuple[int, int, str]]
    source: int


def training_examples(docs: Sequence[Document], rng: random.Random, augment: float = 1.0) -> list[Example]:
    """Every document (some lines restyled in place) plus stand-alone headline-style lines."""
    examples: list[Example] = []
    standalone: list[Example] = []
    for number, doc in enumerate(docs):
        spans = _lines(doc.text)
        restyled: dict[int, str] = {}
        for i, (s, e) in enumerate(spans):
            line = doc.text[s:e]
            tokens = tagger_tokens(line)
            if len(tokens) < 4 or line_mode(tokens) != NORMAL:
                continue
            r = rng.random()
            if r < 0.08 * augment:
                restyled[i] = TITLE
            elif r < 0.12 * augment:
                restyled[i] = UPPER
            has_entity = any(s <= es < e for es, _, _ in doc.entities)
            if has_entity and 6 <= len(tokens) <= 25:
                r = rng.random()
                if r < 0.12 * augment or r > 1 - 0.04 * augment:
                    style = TITLE if r < 0.12 * augment else UPPER
                    ents = [(es - s, ee - s, k) for es, ee, k in doc.entities if s <= es and ee <= e]
                    standalone.append(Example(restyle(line, {0: style}, rng), ents, number))
        text = restyle(doc.text, restyled, rng) if restyled else doc.text
        examples.append(Example(text, doc.entities, number))
    return examples + standalone


def label_sentences(
    sents: Sequence[Sentence], text_len: int, entities: Sequence[tuple[int, int, str]]
) -> list[list[str]]:
    """Gold BIO labels for our tokens: a token takes the entity it overlaps (B- on the first)."""
    owner: list[int] = [-1] * text_len
    for n, (s, e, _) in enumerate(entities):
        for c in range(s, e):
            owner[c] = n
    labels: list[list[str]] = []
    seen: set[int] = set()
    for sentence in sents:
        row = []
        for token in sentence.tokens:
            n = next((owner[c] for c in range(token.start, token.end) if owner[c] >= 0), -1)
            if n < 0:
                row.append("O")
            else:
                row.append(("I-" if n in seen else "B-") + entities[n][2])
                seen.add(n)
        labels.append(row)
    return labels


# --------------------------------------------------------------------------------------------------
# Scoring (the conll_score.py rule: exact first and last token and type)
# --------------------------------------------------------------------------------------------------


Scores = dict[str, dict[str, float]]


@dataclass
class Result:
    c1: float
    c2: float
    seconds: int
    size: int
    scores: Scores


def score(tag: Callable[[str], list[tuple[int, int, EntityKind]]], docs: Sequence[Document]) -> Scores:
    types = {kind: conll_type for conll_type, kind in KINDS.items()}
    counts = {k: {"tp": 0, "fp": 0, "fn": 0} for k in SCORED}
    for doc in docs:
        predicted = set()
        for start, end, entity_kind in tag(doc.text):
            inside = [i for i, (s, e) in enumerate(doc.token_spans) if s < end and e > start]
            if inside:
                predicted.add((inside[0], inside[-1], types[entity_kind]))
        for kind in SCORED:
            gold = {e for e in doc.gold if e[2] == kind}
            found = {e for e in predicted if e[2] == kind}
            counts[kind]["tp"] += len(gold & found)
            counts[kind]["fp"] += len(found - gold)
            counts[kind]["fn"] += len(gold - found)
    total = {k: sum(c[k] for c in counts.values()) for k in ("tp", "fp", "fn")}
    out: dict[str, dict[str, float]] = {}
    for kind, c in [*counts.items(), ("ALL", total)]:
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[kind] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}
    return out


def format_scores(scores: dict[str, dict[str, float]]) -> str:
    rows = [f"{'type':<5} {'prec':>6} {'recall':>6} {'F1':>6}"]
    for kind, s in scores.items():
        rows.append(f"{kind:<5} {s['precision']:>6.3f} {s['recall']:>6.3f} {s['f1']:>6.3f}")
    return "\n".join(rows)


# --------------------------------------------------------------------------------------------------
# Speed and memory, measured in a fresh process
# --------------------------------------------------------------------------------------------------

_BENCH = """
import json, sys, time
sys.path.insert(0, {root!r})
from ingest.train import load_documents
from pathlib import Path
from typing import Any
docs = load_documents(Path({dev!r}))
t0 = time.perf_counter()
from ingest.extract.tagger import Tagger
tagger = Tagger.load({model!r})
load_s = time.perf_counter() - t0
best = None
for _ in range(3):
    t0 = time.process_time()
    for d in docs:
        tagger.tag(d.text)
    s = time.process_time() - t0
    best = s if best is None else min(best, s)
tokens = sum(d.tokens for d in docs)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) training process across exec
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"tokens_per_s": round(tokens / best), "load_s": round(load_s, 3),
                  "peak_rss_mb": round(hwm / 1024, 1)}}))
"""


def benchmark(model: Path, dev: Path) -> dict[str, float]:
    code = _BENCH.format(root=str(REPO_ROOT), dev=str(dev), model=str(model))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    source: int  # the training document an example comes from (jackknife folds split by document)
    sents: list[Sentence]
    features: list[list[list[Feature]]]
    labels: list[list[str]]


def prepare(examples: Sequence[Example], featurizer: Featurizer) -> list[Prepared]:
    out = []
    for example in examples:
        sents = [s for s in sentences(example.text) if s.tokens]
        feats = featurizer.document(sents)
        labels = label_sentences(sents, len(example.text), example.entities)
        out.append(Prepared(example.source, sents, feats, labels))
    return out


def crf_params(c1: float, c2: float, max_iterations: int) -> dict[str, object]:
    return {"c1": c1, "c2": c2, "max_iterations": max_iterations, "feature.possible_transitions": True}


def first_pass_labels(
    data: Sequence[Prepared], folds: int, params: dict[str, object], tmp: Path
) -> list[list[list[str]]]:
    """Labels for every training sentence from a model that never saw its document (jackknife)."""
    import pycrfsuite

    predicted: list[list[list[str]]] = [[] for _ in data]
    for fold in range(folds):
        t0 = time.time()
        trainer = pycrfsuite.Trainer(verbose=False)
        for item in data:
            if item.source % folds != fold:
                for x, y in zip(item.features, item.labels, strict=True):
                    trainer.append(x, y)
        trainer.set_params(params)
        path = tmp / f"fold{fold}.crfsuite"
        trainer.train(str(path))
        tagger = pycrfsuite.Tagger()
        tagger.open(str(path))
        for n, item in enumerate(data):
            if item.source % folds == fold:
                predicted[n] = [tagger.tag(x) for x in item.features]
        tagger.close()
        path.unlink()
        print(f"  jackknife fold {fold + 1}/{folds}: {time.time() - t0:.0f} s", flush=True)
    return predicted


def train(args: argparse.Namespace) -> int:
    import pycrfsuite

    started = time.time()
    train_docs = load_documents(args.train)
    dev_docs = load_documents(args.dev)
    rng = random.Random(SEED)
    examples = training_examples(train_docs, rng, args.augment)
    featurizer = Featurizer(Gazetteer.load(), vocabulary=_vocabulary(train_docs, args.min_count))
    data = prepare(examples, featurizer)
    n_sentences = sum(len(d.labels) for d in data)
    n_tokens = sum(len(y) for d in data for y in d.labels)
    print(
        f"{len(train_docs)} documents -> {len(examples)} examples, {n_sentences} sentences, "
        f"{n_tokens} tokens ({time.time() - started:.0f} s)",
        flush=True,
    )

    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    grid = [tuple(map(float, g.split(","))) for g in args.grid] if args.grid else GRID
    results: list[Result] = []
    best_path: Path | None = None
    best_f1 = -1.0
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        # The model is used twice per text: plain features first, then plain features plus what the
        # first pass said about the same words elsewhere. It learns both from one training set: every
        # sentence as is, and again with document features from jackknifed first-pass labels.
        if args.folds > 1:
            params = crf_params(*JACKKNIFE, args.max_iterations)
            first = first_pass_labels(data, args.folds, params, Path(tmp))
        else:  # no second-pass training (a quicker, slightly weaker model)
            first = [[["O"] * len(y) for y in item.labels] for item in data]
        trainer = pycrfsuite.Trainer(verbose=False)
        stacked = _append_examples(trainer, data, first, args.folds)
        del data, first
        print(f"{stacked} sentences repeated with document features", flush=True)
        for c1, c2 in grid:
            path = Path(tmp) / f"c1={c1},c2={c2}.crfsuite"
            result = _train_one(trainer, c1, c2, args.max_iterations, path, dev_docs)
            results.append(result)
            if result.scores["ALL"]["f1"] > best_f1:
                best_f1 = result.scores["ALL"]["f1"]
                if best_path is not None:
                    best_path.unlink()
                best_path = path
            else:
                path.unlink()
        assert best_path is not None
        os.replace(best_path, out)
    best = max(results, key=lambda r: r.scores["ALL"]["f1"])  # the first of equals, as kept above
    print(f"best: c1={best.c1} c2={best.c2}\n{format_scores(best.scores)}", flush=True)
    bench = benchmark(out, args.dev)
    print(
        f"speed {bench['tokens_per_s']:,} tokens/s (one core), peak RSS {bench['peak_rss_mb']} MB, "
        f"load {bench['load_s']} s, model {out.stat().st_size / 1e6:.2f} MB",
        flush=True,
    )
    write_readme(args, out, best, results, bench, n_tokens, len(examples), stacked, time.time() - started)
    return 0


def _vocabulary(train_docs: Sequence[Document], min_count: int) -> frozenset[str]:
    """The words seen at least ``min_count`` times in training: those that get word-identity features."""
    counts: Counter[str] = Counter()
    for doc in train_docs:
        counts.update(norm_word(doc.text[s:e]) for s, e in doc.token_spans)
    return frozenset(w for w, n in counts.items() if n >= min_count)


def _append_examples(
    trainer: Any, data: Sequence[Prepared], first: Sequence[Sequence[Sequence[str]]], folds: int
) -> int:
    """Give the trainer every sentence, and again with its document features where it has any (with
    jackknifed first-pass labels, ``folds`` above 1); the number of sentences given twice."""
    stacked = 0
    for item, labels in zip(data, first, strict=True):
        extra = document_features(item.sents, labels)
        for x, y, more in zip(item.features, item.labels, extra, strict=True):
            trainer.append(x, y)
            if folds > 1 and any(more):
                trainer.append([[*a, *b] if b else a for a, b in zip(x, more, strict=True)], y)
                stacked += 1
    return stacked


def _train_one(
    trainer: Any, c1: float, c2: float, max_iterations: int, path: Path, dev_docs: Sequence[Document]
) -> Result:
    """Train with one pair of regularisation weights into ``path``, and score the model on ``dev_docs``."""
    t0 = time.time()
    trainer.set_params(crf_params(c1, c2, max_iterations))
    trainer.train(str(path))
    seconds = time.time() - t0
    tagger = Tagger.load(path)
    scores = score(tagger.tag, dev_docs)
    size = path.stat().st_size
    info = trainer.logparser.last_iteration
    print(
        f"c1={c1} c2={c2}: {seconds:.0f} s, {info.get('num') if info else '?'} iterations, "
        f"{size / 1e6:.2f} MB, F1 PER {scores['PER']['f1']:.4f} ORG {scores['ORG']['f1']:.4f} "
        f"LOC {scores['LOC']['f1']:.4f} ALL {scores['ALL']['f1']:.4f}",
        flush=True,
    )
    return Result(c1, c2, round(seconds), size, scores)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_readme(
    args: argparse.Namespace,
    out: Path,
    best: Result,
    results: Sequence[Result],
    bench: dict[str, float],
    n_tokens: int,
    n_examples: int,
    stacked: int,
    seconds: float,
) -> None:
    lines = [
        *_provenance_lines(out),
        *_training_lines(args, best, results, n_tokens, n_examples, stacked, seconds),
        *_score_lines(out, best, bench),
    ]
    (out.parent / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _provenance_lines(out: Path) -> list[str]:
    gazetteers = sorted(GAZETTEER_DIR.glob(f"{GAZETTEER_PREFIX}*.txt"))
    return [
        "# Named-entity model",
        "",
        f"`{out.name}` is the linear-chain CRF that `ingest/extract/tagger.py` (`Tagger.load()`) uses",
        "to find people, organisations and places. `python -m ingest.train` wrote it and this README.",
        "",
        "## Provenance",
        "",
        "- Data: CoNLL-2003 English NER, `eng.train` (946 documents, 203,621 tokens) to train,",
        '  `eng.testa` to tune c1/c2. Tjong Kim Sang & De Meulder, "Introduction to the CoNLL-2003 Shared',
        '  Task: Language-Independent Named Entity Recognition" (CoNLL 2003). The copies used come from the',
        "  public GitHub repository synalp/NER (`corpus/CoNLL-2003/`). The text is Reuters RCV1 newswire",
        "  (August-December 1996), distributed for research use; the annotations are the shared task's. A",
        "  model trained on it may ship with the project with this provenance beside it; the data itself",
        "  is not in the project (it is read from `../shared/data/conll2003/`).",
        "- Gazetteer features read `ingest/gazetteer/tagger_*.txt` (sources: that folder's README). The",
        "  model was trained with exactly these files; retrain after changing any of them:",
        "",
        *[f"  - `{p.name}` sha256 `{_sha256(p)}`" for p in gazetteers],
        "",
    ]


def _training_lines(
    args: argparse.Namespace,
    best: Result,
    results: Sequence[Result],
    n_tokens: int,
    n_examples: int,
    stacked: int,
    seconds: float,
) -> list[str]:
    command = "python -m ingest.train" + "".join(f" {a}" for a in sys.argv[1:])
    stacking = (
        f"{args.folds}-fold jackknife (c1 = {JACKKNIFE[0]}, c2 = {JACKKNIFE[1]}) labels the training set; "
        f"{stacked:,} sentences are added a second time with the document features those labels give"
        if args.folds > 1
        else "no second-pass training (`--folds` below 2)"
    )
    return [
        "## Training",
        "",
        f"- Command, from the repository root: `{command}`",
        f"- Date: {date.today().isoformat()}. python-crfsuite {_crfsuite_version()}, "
        f"Python {sys.version.split()[0]}.",
        f"- Examples: {n_examples:,}: every training document, with a seeded share of its lines rewritten in",
        "  title case or capitals, plus stand-alone headline-style copies of some lines (`--augment`",
        f"  {args.augment}, seed {SEED}); {n_tokens:,} tokens. Words seen fewer than {args.min_count} times",
        "  in training get no word-identity features, so the model learns to handle unseen words.",
        f"- Two passes: {stacking}.",
        f"- L-BFGS, `max_iterations` {args.max_iterations}, `feature.possible_transitions` true; BIO labels",
        "  over PER, ORG, LOC and MISC (MISC is dropped when tagging). Deterministic: same data, same model.",
        f"- Chosen: c1 = {best.c1}, c2 = {best.c2}, the best overall F1 on eng.testa in this grid:",
        "",
        "| c1 | c2 | PER F1 | ORG F1 | LOC F1 | ALL F1 | size (MB) | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *[
            f"| {r.c1} | {r.c2} | {r.scores['PER']['f1']:.4f} | {r.scores['ORG']['f1']:.4f} | "
            f"{r.scores['LOC']['f1']:.4f} | {r.scores['ALL']['f1']:.4f} | {r.size / 1e6:.2f} | {r.seconds} |"
            for r in results
        ],
        "",
        f"The whole run took {seconds / 60:.1f} minutes.",
        "",
    ]


def _score_lines(out: Path, best: Result, bench: dict[str, float]) -> list[str]:
    return [
        "## Scores on eng.testa",
        "",
        "Entity level: first token, last token and type must all match (the rule of",
        "`../shared/tools/conll_score.py`, on text detokenised one sentence a line as that scorer does):",
        "",
        "| type | precision | recall | F1 |",
        "| --- | --- | --- | --- |",
        *[
            f"| {k} | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} |"
            for k, v in best.scores.items()
        ],
        "",
        "eng.testa chose c1/c2, so these are optimistic; expect lower on unseen text, and lower again on",
        "modern news (names the 1996 data never saw, title-case headlines).",
        "",
        "## Size and speed",
        "",
        f"- Model file: {out.stat().st_size / 1e6:.2f} MB.",
        f"- Tagging: {bench['tokens_per_s']:,.0f} tokens/s on one core (CPU time for tokenizing, features",
        "  and both passes over the eng.testa documents; best of three).",
        f"- Peak RSS of a process that loads the model and tags eng.testa: {bench['peak_rss_mb']} MB.",
        f"  Loading (model and gazetteer) takes {bench['load_s']} s.",
        "",
    ]


def _crfsuite_version() -> str:
    from importlib.metadata import version

    return version("python-crfsuite")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=DATA_DIR / "eng.train", help="CoNLL training file")
    parser.add_argument("--dev", type=Path, default=DATA_DIR / "eng.testa", help="CoNLL file to tune on")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH, help="where to write the model")
    parser.add_argument("--grid", nargs="*", metavar="C1,C2", help="c1,c2 pairs to try (default: GRID)")
    parser.add_argument("--max-iterations", type=int, default=MAX_ITERATIONS)
    parser.add_argument("--folds", type=int, default=FOLDS, help="jackknife folds for the first-pass labels")
    parser.add_argument(
        "--augment",
        type=float,
        default=1.0,
        help="scale the share of lines rewritten in title case or capitals",
    )
    parser.add_argument(
        "--min-count",
        type=int,
        default=MIN_COUNT,
        help="training words seen fewer times get no word-identity features",
    )
    args = parser.parse_args(argv)
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
