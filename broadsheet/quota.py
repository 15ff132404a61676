"""A limit as partners and settings write it (``600/minute``): its own module, free of the database layer,
so that reading the settings (every command, ``--help`` included) imports no ORM."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The periods a limit may be spelled in, in seconds.
PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}
_LIMIT = re.compile(r"\s*(\d{1,9})\s*/\s*([a-z]+?)s?\s*")


@dataclass(frozen=True, slots=True)
class Limit:
    """So many (requests, or units of query cost) per period, as written: ``600/minute``."""

    amount: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``<count>/<second|minute|hour|day>``; ValueError naming what is wrong otherwise."""
        match = _LIMIT.fullmatch(text.lower())
        if match is None or match.group(2) not in PERIODS:
            raise ValueError(f"{text!r} is not a limit like 600/minute (per second, minute, hour or day)")
        if int(match.group(1)) == 0:
            raise ValueError(f"{text!r} allows nothing: a limit is at least 1")
        return cls(int(match.group(1)), PERIODS[match.group(2)])

    def __str__(self) -> str:
        period = next((name for name, seconds in PERIODS.items() if seconds == self.seconds), None)
        return f"{self.amount}/{period}" if period else f"{self.amount}/{self.seconds}s"
