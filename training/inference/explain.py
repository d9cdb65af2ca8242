"""Why a model likes a paper: the few inputs that raised its score the most, in a reader's words.

For a tfidf model that is exact: the logistic regression's score is a sum over the paper's
features (TF-IDF weight times coefficient), so the largest positive terms are its reasons. They
are said as a reader would: a phrase of the text in the paper's own spelling (never a stop-word
phrase or a number alone), an author's name, and for the arXiv comment what its words stand for
("code on GitHub", "accepted at ACL 2025"), never a URL fragment. Other methods have no such sum;
the service explains them by the reader's most similar interesting papers instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from training.inference.artifact import TEXT_COLUMN, PaperInput, compose_text, metadata_frame
from training.inference.predictor import Predictor, TfidfPredictor

KINDS = {TEXT_COLUMN: "term", "authors": "author", "comment": "comment", "categories": "category"}


@dataclass(frozen=True)
class Reason:
    kind: str  # term | author | link | venue | category | similar
    text: str
    weight: float  # its share of the score's log-odds

    def describe(self) -> str:
        if self.kind == "term":
            return f"“{self.text}”"
        if self.kind == "author":
            return f"by {self.text}"
        if self.kind in ("link", "venue"):
            return self.text
        if self.kind == "similar":
            return f"like your ✓ paper “{self.text}”"
        return f"{self.kind} {self.text}"


# What a link in an arXiv comment stands for, by its host (and path), first match wins.
_LINKS = (
    (re.compile(r"huggingface\.co/datasets/", re.I), "dataset on Hugging Face"),
    (re.compile(r"huggingface\.co/spaces/", re.I), "demo on Hugging Face"),
    (re.compile(r"huggingface\.co/", re.I), "model on Hugging Face"),
    (re.compile(r"(?<![\w.])github\.com/", re.I), "code on GitHub"),
    (re.compile(r"gitlab\.com/", re.I), "code on GitLab"),
    (re.compile(r"zenodo\.org/", re.I), "data on Zenodo"),
    (re.compile(r"(youtube\.com|youtu\.be)/", re.I), "video"),
)
_URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:github\.io|com|org|io|ai)/\S*", re.I
)
# A venue: a name in capitals (ACL, NeurIPS, ICLR, EMNLP Findings...) and a year.
_VENUE = re.compile(
    r"\b((?:[A-Z][A-Za-z]*[A-Z][A-Za-z]*|[A-Z]{2,})(?:[ -](?:Findings|Workshop|Main))?)"
    r"[ '’]*((?:19|20)\d\d|'\d\d)\b"
)
_ACCEPTED = re.compile(r"\b(accepted|to appear|published|camera[- ]ready|oral|spotlight)\b", re.I)


def comment_facts(comment: str | None) -> list[tuple[str, str]]:
    """What an arXiv comment says that a reader cares about, as (kind, phrase): where the code,
    data or project page is ("link"), and the venue ("venue": "accepted at ACL 2025")."""
    if not comment:
        return []
    facts: list[tuple[str, str]] = []
    for url in _URL.findall(comment):
        name = next((name for pattern, name in _LINKS if pattern.search(url)), "project page")
        facts.append(("link", name))
    accepted = bool(_ACCEPTED.search(comment))
    for name, year in _VENUE.findall(_URL.sub(" ", comment)):
        year = "20" + year[1:] if year.startswith(("'", "’")) else year
        facts.append(("venue", f"{'accepted at' if accepted else 'at'} {name} {year}"))
    return list(dict.fromkeys(facts))


def plain_term(term: str) -> bool:
    """A phrase a reader can use: some word in it is not a stop word, and it has a letter."""
    words = term.split()
    return any(w not in ENGLISH_STOP_WORDS for w in words) and any(c.isalpha() for c in term)


def own_spelling(term: str, paper: PaperInput) -> str | None:
    """The phrase as the paper writes it ("LLMs", not "llms"), outside its links; None where
    the paper has it only inside a link ("github", "com")."""
    pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in term.split()) + r"(?!\w)"
    found = re.search(pattern, _URL.sub(" ", f"{paper.title or ''}\n{paper.abstract}"), re.I)
    return found.group(0) if found else None


def explains(predictor: Predictor) -> bool:
    return isinstance(predictor, TfidfPredictor)


def tfidf_reasons(
    predictor: Predictor, papers: Sequence[PaperInput], *, top: int = 4
) -> list[list[Reason]]:
    """The ``top`` features adding most to each paper's score (positive contributions only)."""
    if not isinstance(predictor, TfidfPredictor):
        raise TypeError(
            f"only tfidf models are explained by their terms, not {predictor.meta.method}"
        )
    if not papers:
        return []
    pipeline: Any = predictor.pipeline
    features, logreg = pipeline[:-1], pipeline[-1]
    meta = predictor.meta
    prefixed = predictor.reads_frame
    if prefixed:
        inputs: Any = metadata_frame(
            papers, text_fields=meta.text_fields, meta_fields=meta.meta_fields
        )
    else:
        inputs = [compose_text(p.title, p.abstract, meta.text_fields) for p in papers]
    matrix = features.transform(inputs).tocsr()
    names = predictor.feature_names
    coef = np.asarray(logreg.coef_).ravel()
    reasons = []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        columns, values = matrix.indices[start:end], matrix.data[start:end]
        contributions = values * coef[columns]
        order = np.argsort(-contributions)
        raw = [
            _reason(str(names[columns[i]]), float(contributions[i]), prefixed)
            for i in order
            if contributions[i] > 0
        ]
        reasons.append(_in_plain_words(raw, papers[row], top))
    return reasons


def _in_plain_words(raw: list[Reason], paper: PaperInput, top: int) -> list[Reason]:
    """The strongest reasons a reader can use, each once: character n-grams ("ing d"),
    stop-word phrases and bare numbers left out, comment words said as what they stand for."""
    found: list[Reason] = []
    comment_said = False
    for reason in raw:
        if reason.kind == "chars":
            continue
        if reason.kind == "comment":
            if comment_said:  # the comment's facts are said once, at its strongest word
                continue
            comment_said = True
            said = [
                Reason(kind, text, reason.weight) for kind, text in comment_facts(paper.comment)
            ]
        elif reason.kind == "term":
            spelt = own_spelling(reason.text, paper) if plain_term(reason.text) else None
            if spelt is None:
                continue
            said = [Reason("term", spelt, reason.weight)]
        else:
            said = [reason]
        for item in said:
            if not _repeats(item, found):
                found.append(item)
    return found[:top]


def _repeats(item: Reason, found: list[Reason]) -> bool:
    """Said already: the same phrase, or a term inside one said ("language" after "language
    models") or holding one ("language models" after "language")."""
    key = item.text.lower()
    for other in found:
        said = other.text.lower()
        if key == said:
            return True
        if item.kind == other.kind == "term":
            words, other_words = key.split(), said.split()
            if set(words) <= set(other_words) or set(other_words) <= set(words):
                return True
    return False


def _reason(name: str, weight: float, prefixed: bool) -> Reason:
    block, _, feature = name.partition("__") if prefixed else (TEXT_COLUMN, "", name)
    return Reason(kind=KINDS.get(block, block), text=feature.strip(), weight=round(weight, 4))
