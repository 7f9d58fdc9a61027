"""What a scrutiny panel's figures rest on: Wilson intervals for rates, the audit ratings, the sample's
rules and the outcomes of a welfare check. Plain Python, each rule stated once."""

from __future__ import annotations

import hashlib
import math
from decimal import ROUND_HALF_UP, Decimal

from pathway.errors import ValidationError

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile: a 95 % two-sided interval

RATINGS = ("outstanding", "good", "requires_improvement", "inadequate")
GOOD_OR_BETTER = ("outstanding", "good")
MAX_THEMES = 20
STRATA = ("client_group", "team")
WELFARE_CHECK = "welfare_check"  # the event kind of a check made (pathway.domain.events.KINDS)
OUTREACH_OUTCOMES = ("spoken", "no_answer", "needs_follow_up")


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion, in percent to one decimal (None when n is 0).

    Unlike the plain p ± z·√(p(1-p)/n) it stays inside 0-100 and is honest for small n and for
    rates near 0 or 100 %, which is where a team's figures often are."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return percent(max(0.0, centre - half)), percent(min(1.0, centre + half))


def percent(fraction: float) -> float:
    """A fraction as a percentage rounded half up to one decimal."""
    return float((Decimal(repr(fraction)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def share(successes: int, n: int) -> float | None:
    """successes ÷ n as a percentage to one decimal, exactly (None when n is 0)."""
    if not n:
        return None
    return float((Decimal(100 * successes) / Decimal(n)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def rate(successes: int, n: int) -> dict:
    """A rate as a report shows it: the share and its 95 % Wilson interval (the denominator is shown
    beside it by the report)."""
    interval = wilson(successes, n)
    return {"pct": share(successes, n), "low": interval[0] if interval else None,
            "high": interval[1] if interval else None}


# -- case-file audits ------------------------------------------------------------------------------

def check_rating(value: str) -> str:
    if value not in RATINGS:
        raise ValidationError(f"unknown rating {value!r}; ratings are: {', '.join(RATINGS)}", field="rating")
    return value


def check_themes(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in (p.strip() for p in values.split(",")) if v]
    themes = list(values)
    if len(themes) > MAX_THEMES or any(not isinstance(t, str) or not 1 <= len(t.strip()) <= 64 for t in themes):
        raise ValidationError(f"themes are at most {MAX_THEMES} short labels of 1-64 characters", field="themes")
    return [t.strip() for t in themes]


def check_rate(value) -> float:
    """A sample rate: a fraction in (0, 1]."""
    try:
        r = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"rate {value!r} is not a number; give a fraction above 0 and at most 1, "
                              "e.g. 0.05", field="rate") from None
    if not 0 < r <= 1 or math.isnan(r):
        raise ValidationError(f"rate {value!r} is outside (0, 1]; give a fraction above 0 and at most 1, "
                              "e.g. 0.05 for 5 %", field="rate")
    return r


def check_stratify(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    out: list[str] = []
    for name in value:
        if name not in STRATA:
            raise ValidationError(f"cannot stratify by {name!r}; stratify by any of: {', '.join(STRATA)}",
                                  field="stratify")
        if name not in out:
            out.append(name)
    return tuple(out)


def sample_size(population: int, rate: float) -> int:
    """How many of a stratum's ``population`` are drawn: the rate's share rounded up, so every
    stratum with anyone in it is seen at least once."""
    return min(population, math.ceil(Decimal(repr(rate)) * population))


def draw_key(seed: int, episode_id: int) -> str:
    """An episode's place in the draw: a hash of the seed and the episode, the same on any database
    and in any process (Python's own ``hash`` is salted per process)."""
    return hashlib.sha256(f"{seed}:{episode_id}".encode()).hexdigest()


def draw(population: list[tuple[int, tuple]], rate: float, seed: int) -> list[tuple[int, tuple]]:
    """The sample: in each stratum, the ``sample_size`` episodes first by :func:`draw_key`.
    ``population`` is (episode id, stratum) pairs; the answer is sorted by stratum, then id."""
    strata: dict[tuple, list[int]] = {}
    for episode_id, stratum in population:
        strata.setdefault(stratum, []).append(episode_id)
    out = []
    for stratum in sorted(strata):
        ids = sorted(strata[stratum], key=lambda i: draw_key(seed, i))
        out.extend((i, stratum) for i in sorted(ids[:sample_size(len(ids), rate)]))
    return out


# -- welfare checks and outreach -------------------------------------------------------------------

def outreach_outcome_problem(value) -> str | None:
    """Why ``value`` is not a welfare check's outcome, or None."""
    if value not in OUTREACH_OUTCOMES:
        return f"unknown outcome {value!r}; a check's outcome is one of: {', '.join(OUTREACH_OUTCOMES)}"
    return None


def check_outreach_outcome(value: str) -> str:
    problem = outreach_outcome_problem(value)
    if problem is not None:
        raise ValidationError(problem, field="outcome")
    return value
