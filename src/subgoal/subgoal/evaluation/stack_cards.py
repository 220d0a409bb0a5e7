"""Model cards of whole stacks: what a bringup config measured over DDS, and whether a new run agrees.

A bundle's ``model.json`` holds what *that model* measured on its own (direct sim evaluation). What a user
sees in ``make demo`` is a stack of several bundles over real DDS in real time, which can differ (the drawer
stack loses points to re-plan time and jitter; docs/architecture.md § Stack replica). ``models/stack_cards.json``
records, per config, the full-stack success measured over many seeded episodes and the command that
measured it; ``make demo`` and ``make pipeline`` compare their (few-episode) runs with it.

A few demo episodes cannot pin a success rate to ±10 points (3 episodes: a 95% interval ~60 points wide),
so agreement is judged statistically: the run *agrees* with the card when the run's 95% Wilson score
interval overlaps the card's own (the card is a finite sample too: 50/50 says ≥ 93%, not exactly 100%, so
a 19/20 run does not contradict it). Overlap of two 95% intervals is a conservative test (a stack that really
performs as carded is flagged well under 5% of the time); at 3 episodes it only catches a broken stack,
which is all 3 episodes can tell.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

#: the file next to the shipped bundles (repository root relative)
DEFAULT_CARDS = Path(__file__).resolve().parents[4] / "models" / "stack_cards.json"


@dataclass(frozen=True)
class StackCard:
    config: str
    task: str
    success_rate: float
    episodes: int
    command: str
    note: str = ""
    direct: dict | None = None
    """the same bundles evaluated in one process without ROS (``success_rate``, ``episodes``, ``command``):
    what ``make pipeline`` compares its retrained bundles with"""


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial rate (good at 0/n and n/n, unlike the normal approximation)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def load_cards(path: str | Path = DEFAULT_CARDS) -> dict[str, StackCard]:
    """Config path (as written in ``eval_config.json``, e.g. ``config/demo.yaml``) -> its card; {} if no file."""
    path = Path(path)
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    cards = {}
    for config, c in raw.get("stacks", {}).items():
        rate = float(c["success_rate"])
        if not 0.0 <= rate <= 1.0 or int(c["episodes"]) < 1:
            raise ValueError(f"{path}: card of {config} needs success_rate in [0, 1] and episodes >= 1, got {c}")
        direct = c.get("direct")
        if direct is not None and not 0.0 <= float(direct.get("success_rate", -1)) <= 1.0:
            raise ValueError(f"{path}: direct evaluation of {config} needs success_rate in [0, 1], got {direct}")
        cards[config] = StackCard(config, c["task"], rate, int(c["episodes"]), c["command"], c.get("note", ""), direct)
    return cards


def card_for(config: str, cards: dict[str, StackCard]) -> StackCard | None:
    """The card of ``config``, matched on the path relative to the repository (``./config/x.yaml`` works)."""
    key = Path(config).as_posix()
    for name, card in cards.items():
        if Path(name).as_posix() == key or key.endswith("/" + Path(name).as_posix()):
            return card
    return None


@dataclass(frozen=True)
class Agreement:
    card: StackCard
    successes: int
    episodes: int
    low: float
    high: float

    @property
    def card_interval(self) -> tuple[float, float]:
        c = self.card
        return wilson_interval(round(c.success_rate * c.episodes), c.episodes)

    @property
    def agrees(self) -> bool:
        lo, hi = self.card_interval
        return self.low <= hi and lo <= self.high

    def cell(self) -> str:
        verdict = "agrees" if self.agrees else ("**below the card**" if self.high < self.card_interval[0]
                                                 else "above the card")
        return (f"{100 * self.card.success_rate:.0f}% ({self.card.episodes} ep.) | "
                f"{100 * self.low:.0f}–{100 * self.high:.0f}% | {verdict}")


def compare(config: str, successes: int, episodes: int, cards: dict[str, StackCard]) -> Agreement | None:
    card = card_for(config, cards)
    if card is None or episodes < 1:
        return None
    low, high = wilson_interval(successes, episodes)
    return Agreement(card, successes, episodes, low, high)
