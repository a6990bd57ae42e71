"""Word vocabulary of the text encoder (Sec. 3.3.1: "a learnable text encoder computes e_s from s").

The vocabulary is built from the caption templates (every string value in ``templates/captions/*.yaml``,
``{placeholders}`` removed) plus the words of the MNIST and CATER templates of docs/DATASETS.md, Caption templates, the ten digits and
the signs ``( ) , . -``. The tokenizer lower-cases and splits words, single digits, parentheses, commas, periods
and minus signs: ``"sliding to (-2, 3)."`` -> ``sliding to ( - 2 , 3 ) .``. Unknown words map to ``<unk>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
import yaml

PAD, UNK = "<pad>", "<unk>"
SPECIALS = (PAD, UNK)
SIGNS = ("(", ")", ",", ".", "-")
DIGITS = tuple(str(i) for i in range(10))
_TOKEN_RE = re.compile(r"[a-z]+|[0-9]|[(),.\-]")
_PLACEHOLDER_RE = re.compile(r"\{[^}]*\}")
CAPTION_DIR = Path(__file__).resolve().parent.parent / "templates" / "captions"

# Words of the templates in docs/DATASETS.md (Caption templates), so a vocabulary exists even before the YAML files are written.
BUILTIN_WORDS = (
    "the digit is moving and up then down left right "
    # CATER-GEN
    "small medium large gray red blue green brown purple cyan yellow gold metal rubber "
    "cube sphere cylinder cone snitch sliding to rotating picked placed containing "
    "first second third fourth quadrant"
).split()


def tokenize(text: str) -> list[str]:
    """Split a caption into lower-case words, single digits and the signs ( ) , . -"""
    return _TOKEN_RE.findall(text.lower())


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _strings(v)


def template_words(caption_dir: str | Path | None = None) -> list[str]:
    """Tokens of every string value of the caption YAML files (placeholders removed)."""
    folder = Path(caption_dir) if caption_dir is not None else CAPTION_DIR
    words: set[str] = set()
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        for s in _strings(data):
            words.update(tokenize(_PLACEHOLDER_RE.sub(" ", s)))
    return sorted(words)


class Vocabulary:
    """Token <-> id map; id 0 is <pad>, id 1 is <unk>."""

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tokens[: len(SPECIALS)] != list(SPECIALS):
            raise ValueError(f"a vocabulary must start with {SPECIALS}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("duplicate tokens in vocabulary")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, caption_dir: str | Path | None = None, extra: Iterable[str] = ()) -> "Vocabulary":
        words = set(template_words(caption_dir)) | set(BUILTIN_WORDS) | set(extra)
        words -= set(DIGITS) | set(SIGNS) | set(SPECIALS)
        return cls(list(SPECIALS) + list(DIGITS) + list(SIGNS) + sorted(words))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def encode(self, text: str) -> list[int]:
        return [self.index.get(t, self.unk_id) for t in tokenize(text)]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.tokens[i] for i in ids if i != self.pad_id)

    def batch(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids long [B, L], valid bool [B, L]) padded to the longest caption, cut at max_len."""
        seqs = [self.encode(t)[:max_len] or [self.unk_id] for t in texts]
        length = max(len(s) for s in seqs)
        ids = torch.zeros(len(seqs), length, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return ids, ids != self.pad_id

    def to_list(self) -> list[str]:
        return list(self.tokens)

    @classmethod
    def from_list(cls, tokens: Sequence[str]) -> "Vocabulary":
        return cls(tokens)
