"""GET /api/leaderboard: ratings with their intervals, win rates and battle counts, and the
filters that chose the battles."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from arena.evaluation.ratings.standings import ELO_K, Unit
from arena.web.schemas.style_control import StyleControlPublic


class PassRatePublic(BaseModel):
    """promptfoo tests of a contestant over the benchmark runs the filters include."""

    passed: int = Field(description="Tests passed")
    total: int = Field(description="Tests graded, a failed generation counted as not passed")
    rate: float = Field(description="passed / total, from 0 to 1")


class ContestantPassRatePublic(PassRatePublic):
    model: str = Field(description="A model id, or an instance id when rated by instance (as rows' `model`)")
    name: str = Field(description="Its readable name (as rows' `name`)")


class RatingPublic(BaseModel):
    model: str = Field(description="A model id, or an instance id when rated by instance: the row's key")
    name: str = Field(
        description="A readable name, unique on this board: the model without its engine prefix (unless two "
        "engines share it), plus the settings that tell its instances apart, e.g. "
        "'smollm2-135m-instruct · temp 1.0 · top_p 0.9'"
    )
    rating: float = Field(
        description="Bradley–Terry rating: one maximum-likelihood fit of every battle at once (order does not "
        "matter), on the Elo scale (400 points = 10:1 odds of winning), centred so the models average 1000. "
        "The number to rank by."
    )
    ci_low: float | None = Field(
        description="Lower end of the 95% bootstrap interval of `rating` (battles resampled `rounds` times); "
        "null when rounds=0"
    )
    ci_high: float | None = Field(description="Upper end of the 95% bootstrap interval of `rating`")
    rank: int = Field(description="1 + the number of models whose lower bound is above this upper bound")
    elo: float = Field(
        description=f"Online Elo over the same battles, oldest first: every model starts at 1000 and moves at "
        f"most K={ELO_K:g} points per battle, so it depends on the order and stays near 1000 until there are "
        f"many battles; it differs from `rating` (which weighs every battle at once) and is no interval"
    )
    battles: int
    wins: int
    losses: int
    ties: int
    both_bad: int
    pass_rate: PassRatePublic | None = Field(
        None, description="Its promptfoo tests passed, over the included runs; null when it had none"
    )
    raw_rating: float | None = Field(
        None,
        description="With style_control: the plain Bradley–Terry rating of the same battles, style not held equal "
        "(`rating` is then style-controlled); null otherwise",
    )
    raw_rank: int | None = Field(None, description="With style_control: its place by `raw_rating` (1 = best)")
    votes_to_separate: int | None = Field(
        None,
        description="About how many more votes between this row and the next one below give an 80% chance that "
        "their 95% intervals stop overlapping (0: they do not overlap now), if their true gap is the one measured "
        "now and each interval narrows as 1/sqrt(battles): an estimate for planning, not a promise; null for the "
        "last row, without intervals, for equal ratings, or beside a provisional row",
    )
    provisional: bool = Field(
        False,
        description="Too few battles (fewer than 10) or a bootstrap interval of no width: its rating and rank are "
        "not settled, and its rank claims no separation from rows it never played",
    )
    provisional_reason: str | None = Field(None, description="Why the row is provisional, for people")


class LeaderboardFiltersPublic(BaseModel):
    source: Literal["human", "judge", "all"]
    judge_model: str | None
    category: str | None
    since: datetime | None
    until: datetime | None
    by: Unit
    rounds: int
    seed: int
    include_imported: bool = False
    style_control: bool = False


class LeaderboardPublic(BaseModel):
    filters: LeaderboardFiltersPublic
    rows: list[RatingPublic] = Field(description="Best rating first")
    models: list[str] = Field(description="The rows' models in order: the index of both matrices")
    names: list[str] = Field(description="The readable name of each of `models`, in the same order (see rows' `name`)")
    win_rate: list[list[float | None]] = Field(
        description="win_rate[i][j]: share of i's battles against j won, ties half"
    )
    counts: list[list[int]] = Field(description="counts[i][j]: battles between i and j, both-bad included")
    total_battles: int
    battles_by_source: dict[str, int]
    judge_models: list[str] = Field(description="Every judge with battles: the choices for judge_model")
    categories: list[str]
    latest_battle_at: datetime | None
    all_ties: bool = Field(
        False, description="Every battle is a tie or both bad: the ratings say nothing, and a narrow interval is no certainty"
    )
    note: str | None = Field(
        None, description="What the board cannot tell, for people: `notes` joined (null when there are none)"
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Each warning on its own: every battle a tie, verdicts of judges flagged unreliable (with how to "
        "see the board without them), provisional rows",
    )
    unreliable_judges: list[str] = Field(
        default_factory=list,
        description="Judges flagged unreliable (GET /api/judges) whose verdicts this view counts; source=human or "
        "a judge_model filter leaves them out",
    )
    pass_rates: list[ContestantPassRatePublic] | None = Field(
        None,
        description="promptfoo pass rates of every contestant with tests in the runs the filters include (also "
        "those without battles), best first; null when no included run had tests",
    )
    style: StyleControlPublic | None = Field(
        None, description="With style_control: the style coefficients; `rows` are then style-controlled"
    )
