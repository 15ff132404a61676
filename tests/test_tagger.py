"""The statistical NER tagger: tokenizer offsets always; the committed model where it is present."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.extract.features import GAZETTEER_DIR, GAZETTEER_PREFIX, Featurizer, Gazetteer
from ingest.extract.tagger import DEFAULT_MODEL_PATH, Tagger, decode
from ingest.extract.tokens import NORMAL, TITLE, UPPER, TaggerToken, line_mode, sentences, tagger_tokens

TRICKY = (
    "KYIV, Ukraine (AP) — Ukraine’s foreign minister, Andrii Sybiha, said talks with the U.S. would go on.\n"
    "“We don’t agree,” Mr. Witkoff told Dr. O’Brien-Smith at 10:30 a.m. on Feb. 24,\n"
    "paying $1,250.50 to AT&T Inc. (or 'the firm') on 1996-08-22.\n"
    "\n"
    "Trump's plan — and the E.U.’s — cost 3.5bn... see https://example.com/a.html, or mail a.b@c.org!\n"
    "Zelenskyy Meets Witkoff in Berlin\r\nPUTIN SAYS NO TO U.S.\n"
)


def sentence_tokens(text: str) -> list[TaggerToken]:
    """The tokens of every line, as ``sentences`` splits them."""
    return [token for sentence in sentences(text) for token in sentence.tokens]


def words(text: str) -> list[str]:
    return [t.text for t in sentence_tokens(text)]


# --------------------------------------------------------------------------------------------------
# Tokenizer and sentences (no model needed)
# --------------------------------------------------------------------------------------------------


def test_token_offsets_are_exact() -> None:
    tokens = sentence_tokens(TRICKY)
    assert tokens
    for token in tokens:
        assert TRICKY[token.start : token.end] == token.text
        assert token.text.strip() == token.text and token.text
    assert [t.start for t in tokens] == sorted(t.start for t in tokens)
    assert all(a.end <= b.start for a, b in itertools.pairwise(tokens))


def test_possessives_and_clitics_split_off() -> None:
    assert words("Putin’s envoy") == ["Putin", "’s", "envoy"]
    assert words("Trump's plan") == ["Trump", "'s", "plan"]
    assert words("the E.U.’s diplomat") == ["the", "E.U.", "’s", "diplomat"]
    assert words("We don’t, they can't") == ["We", "do", "n’t", ",", "they", "ca", "n't"]
    assert words("O'Neill and O’Brien") == ["O'Neill", "and", "O’Brien"]


def test_curly_quotes_hyphens_abbreviations_numbers() -> None:
    assert words("“Yes,” he said") == ["“", "Yes", ",", "”", "he", "said"]
    assert words("Jean-Paul, a 3-year-old") == ["Jean-Paul", ",", "a", "3-year-old"]
    assert words("Mr. J. Smith of the U.S. and AT&T Inc. left") == [
        "Mr.",
        "J.",
        "Smith",
        "of",
        "the",
        "U.S.",
        "and",
        "AT&T",
        "Inc.",
        "left",
    ]
    assert words("$1,250.50 at 10:30 on 1996-08-22") == ["$", "1,250.50", "at", "10:30", "on", "1996-08-22"]
    # a period that ends the line ends the sentence too (the CoNLL convention)
    assert words("troops left the U.S.") == ["troops", "left", "the", "U.S", "."]


def test_tagger_tokens_offsets_are_into_the_whole_text() -> None:
    text = "first line\nPutin’s second"
    start = text.index("Putin")
    tokens = tagger_tokens(text, start, len(text))
    assert [t.text for t in tokens] == ["Putin", "’s", "second"]
    assert all(text[t.start : t.end] == t.text for t in tokens)


def test_sentences_and_line_modes() -> None:
    text = (
        "Zelenskyy Meets Witkoff in Berlin as Talks Resume\n"
        "ZELENSKYY SAYS RUSSIA MUST AGREE\n"
        "Mr. Witkoff met Vladimir Putin in the U.S. on Monday. He left. “It went well,” he said."
    )
    found = [(s.mode, " ".join(t.text for t in s.tokens)) for s in sentences(text)]
    assert found == [
        (TITLE, "Zelenskyy Meets Witkoff in Berlin as Talks Resume"),
        (UPPER, "ZELENSKYY SAYS RUSSIA MUST AGREE"),
        (NORMAL, "Mr. Witkoff met Vladimir Putin in the U.S. on Monday ."),
        (NORMAL, "He left ."),
        (NORMAL, "“ It went well , ” he said ."),
    ]
    assert line_mode(sentence_tokens("Peter Blackburn")) == NORMAL  # too short to call a headline


def test_decode_bio() -> None:
    tokens = sentence_tokens("Steve Witkoff met Putin in Moscow")
    labels = ["B-PER", "I-PER", "O", "I-PER", "O", "B-LOC"]
    assert decode(tokens, labels) == [(0, 13, "PER"), (18, 23, "PER"), (27, 33, "LOC")]


# --------------------------------------------------------------------------------------------------
# The committed model
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    if importlib.util.find_spec("pycrfsuite") is None:
        pytest.skip("python-crfsuite is not installed")
    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip(f"no trained model at {DEFAULT_MODEL_PATH} (python -m ingest.train writes it)")
    return Tagger.load()


def found(tagger: Tagger, text: str) -> set[tuple[str, str]]:
    spans = tagger.tag(text)
    for start, end, kind in spans:
        assert 0 <= start < end <= len(text)
        assert kind in {"person", "organization", "place"}
        assert text[start:end] == text[start:end].strip()
    return {(text[s:e], k) for s, e, k in spans}


def test_modern_names(tagger: Tagger) -> None:
    text = "Ukrainian President Volodymyr Zelenskyy met Steve Witkoff in Kyiv on Tuesday."
    assert found(tagger, text) == {
        ("Volodymyr Zelenskyy", "person"),
        ("Steve Witkoff", "person"),
        ("Kyiv", "place"),
    }
    text = "Foreign Minister Andrii Sybiha told reporters in Brussels that NATO would meet again."
    assert found(tagger, text) == {
        ("Andrii Sybiha", "person"),
        ("Brussels", "place"),
        ("NATO", "organization"),
    }


def test_possessives_stay_outside_the_name(tagger: Tagger) -> None:
    text = "Putin’s envoy flew to Washington. Ukraine’s foreign minister, Andrii Sybiha, met Trump's aides."
    result = found(tagger, text)
    assert ("Putin", "person") in result
    assert ("Ukraine", "place") in result
    assert ("Andrii Sybiha", "person") in result
    assert ("Washington", "place") in result
    assert not any("’s" in name or "'s" in name for name, _ in result)


def test_title_case_headline(tagger: Tagger) -> None:
    headline = "Zelenskyy Meets Witkoff in Berlin as Peace Talks Resume"
    body = "Ukrainian President Volodymyr Zelenskyy met US envoy Steve Witkoff in Berlin on Monday."
    text = f"{headline}\n{body}"
    in_headline = {(text[s:e], k) for s, e, k in tagger.tag(text) if e <= len(headline)}
    assert in_headline == {("Zelenskyy", "person"), ("Witkoff", "person"), ("Berlin", "place")}
    # alone, a headline has less to go on, but its common words are still not names
    alone = found(tagger, headline)
    assert ("Berlin", "place") in alone
    assert not any(word in name for name, _ in alone for word in ("Meets", "Peace", "Talks", "Resume"))


def test_all_caps(tagger: Tagger) -> None:
    text = (
        "ZELENSKYY AND STARMER MEET IN LONDON\n"
        "Volodymyr Zelenskyy met Keir Starmer in London on Saturday, Downing Street said."
    )
    headline = text.split("\n")[0]
    in_headline = {(text[s:e], k) for s, e, k in tagger.tag(text) if e <= len(headline)}
    assert ("LONDON", "place") in in_headline
    assert ("STARMER", "person") in in_headline


def test_organizations(tagger: Tagger) -> None:
    text = "Shares of Microsoft rose after the European Commission fined Google, Reuters reported."
    result = found(tagger, text)
    assert ("European Commission", "organization") in result
    assert ("Microsoft", "organization") in result
    assert ("Reuters", "organization") in result


def test_empty_and_deterministic(tagger: Tagger) -> None:
    assert tagger.tag("") == []
    assert tagger.tag(" \n\n  ") == []
    assert tagger.tag("the cat sat on the mat.") == []
    spans = tagger.tag(TRICKY)
    assert tagger.tag(TRICKY) == spans
    # The same spans from a tagger loaded afresh in another process: nothing depends on the run.
    script = (
        "import json; from ingest.extract.tagger import Tagger; from tests.test_tagger import TRICKY; "
        "print(json.dumps(Tagger.load().tag(TRICKY)))"
    )
    root = Path(__file__).resolve().parents[1]
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=root
    )
    assert [tuple(span) for span in json.loads(child.stdout)] == spans
    found_here = {(TRICKY[start:end], kind) for start, end, kind in spans}
    assert {("Andrii Sybiha", "person"), ("AT&T Inc.", "organization"), ("Berlin", "place")} <= found_here


def test_model_matches_its_gazetteer() -> None:
    """The model was trained against these gazetteer files: changing them means retraining."""
    readme = DEFAULT_MODEL_PATH.parent / "README.md"
    if not DEFAULT_MODEL_PATH.is_file() or not readme.is_file():
        pytest.skip("no trained model and README to compare with")
    text = readme.read_text(encoding="utf-8")
    for path in sorted(GAZETTEER_DIR.glob(f"{GAZETTEER_PREFIX}*.txt")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"`{path.name}` sha256 `{digest}`" in text, f"{path.name} changed since training: retrain"


def test_tags_and_marginals_are_python_crfsuites(tagger: Tagger) -> None:
    """The tagger goes to crfsuite's C interface with feature records (``ingest/extract/crf.py``), made by
    ``Featurizer.records``; python-crfsuite, given the same features as text by ``Featurizer.features``,
    must find the same labels with the same probabilities, to the bit."""
    import pycrfsuite

    reference = pycrfsuite.Tagger()
    reference.open(str(DEFAULT_MODEL_PATH))
    as_text = Featurizer(Gazetteer.load())
    crf, as_records = tagger._crf, tagger._featurizer
    text = TRICKY + (
        "Deputy Defence Minister Alexander Fomin met NATO officials in Brussels on Monday.\n"
        "FOMIN WARNS NATO\nThe European Union and the U.N. Security Council said Fomin would return.\n"
        "“Paris,” said Mr. Macron of France. New York and Los Angeles Times reporters met Ms. Li.\n"
    )
    sents = sentences(text)
    tagged = 0
    pairs = zip(as_text.document(sents), as_records.document_records(sents), strict=True)
    for text_features, records in pairs:
        if not text_features:
            continue
        expected = reference.tag(text_features)
        assert crf.tag(records) == expected
        for position in range(len(expected)):
            for label in crf.labels:
                assert crf.marginal(label, position) == reference.marginal(label, position)
        tagged += 1
    assert tagged >= 10
    assert sorted(crf.labels) == sorted(reference.labels())
