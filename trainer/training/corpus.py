"""Small text corpora that need no download: the one shipped with the package, and a generated one.

The shipped corpus (`trainer/training/assets/corpus.txt`) is plain English written for this project, one
paragraph per line. The generated corpus is made of templated sentences about pools, peers and
stake, drawn with a seeded random generator: it is deterministic, as large as asked for, and has
enough structure that a tiny LLaMA's loss falls quickly on it, which is what the tests need.
"""

from __future__ import annotations

import random
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"

_NAMES = [
    "ada",
    "bo",
    "chen",
    "dana",
    "eli",
    "fatima",
    "goro",
    "hana",
    "ivan",
    "jun",
    "kemi",
    "lena",
    "mateo",
    "nia",
    "omar",
    "priya",
    "quinn",
    "ravi",
    "sara",
    "tomas",
    "uma",
    "vera",
    "wei",
    "yusuf",
]
_THINGS = ["node", "pool", "shard", "checkpoint", "adapter", "gradient", "record", "epoch", "batch", "validator"]
_ADJECTIVES = ["small", "steady", "late", "fast", "quiet", "busy", "fresh", "honest", "remote", "local"]
_VERBS = ["trained", "averaged", "checked", "signed", "stored", "loaded", "shared", "measured", "counted", "sent"]
_PLACES = ["in the swarm", "on the chain", "over the network", "on disk", "in memory", "behind a firewall"]

_TEMPLATES = [
    "{name} staked {n} inj on node {k} and joined pool {p}.",
    "the {adj} {thing} was {verb} by {name} {place}.",
    "peer {name} {verb} {n} samples in epoch {k} of pool {p}.",
    "pool {p} reached epoch {k} after {n} samples from {m} peers.",
    "{name} and {name2} {verb} the {thing} {place}, then waited for epoch {k}.",
    "validator {name} checked the {thing} of {name2} and found {n} tokens.",
    "the loss of pool {p} fell from {hi}.{d1} to {lo}.{d2} by epoch {k}.",
    "a {adj} peer named {name} {verb} its {thing} and went back to work.",
    "node {k} of {name} holds {n} units of compute for pool {p}.",
    "in epoch {k}, {m} peers {verb} gradients {place}.",
]


def shipped_corpus_path() -> Path:
    """The hand-written corpus that ships with the package."""
    return ASSETS / "corpus.txt"


def generate_lines(num_lines: int, seed: int = 0) -> list[str]:
    """Deterministic templated sentences, several per line."""
    rng = random.Random(seed)
    lines = []
    for _ in range(num_lines):
        sentences = []
        for _ in range(rng.randint(2, 4)):
            template = rng.choice(_TEMPLATES)
            name, name2 = rng.sample(_NAMES, 2)
            hi = rng.randint(4, 9)
            sentences.append(
                template.format(
                    name=name,
                    name2=name2,
                    n=rng.randint(1, 999),
                    m=rng.randint(2, 9),
                    k=rng.randint(0, 99),
                    p=rng.randint(1, 12),
                    adj=rng.choice(_ADJECTIVES),
                    thing=rng.choice(_THINGS),
                    verb=rng.choice(_VERBS),
                    place=rng.choice(_PLACES),
                    hi=hi,
                    lo=rng.randint(1, hi - 1),
                    d1=rng.randint(0, 9),
                    d2=rng.randint(0, 9),
                )
            )
        lines.append(" ".join(sentences))
    return lines


def generate_corpus(path: Path, num_lines: int = 4000, seed: int = 0, include_shipped: bool = True) -> Path:
    """Write a generated corpus (optionally preceded by the shipped one) to ``path``; one document per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = generate_lines(num_lines, seed)
    if include_shipped:
        lines = shipped_corpus_path().read_text().splitlines() + lines
    path.write_text("\n".join(line for line in lines if line.strip()) + "\n")
    return path
