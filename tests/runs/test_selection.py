"""Equal-effort selection: each arm tries the same number of configurations and keeps the best on validation."""

from __future__ import annotations

import math

import pytest

from framework.core.errors import ConfigError
from framework.runs.selection import (
    SELECT_STAGE,
    choose,
    draw,
    final_jobs,
    groups_of,
    is_selection_run,
    search_grid,
    selection_jobs,
)

JOBS = [
    ["+arm=s/a", "seed=0"],
    ["+arm=s/a", "seed=1"],
    ["+arm=s/b", "seed=0"],
    ["+arm=s/b", "seed=1"],
]
GRID = [("lr=0.1", "wd=0"), ("lr=0.1", "wd=1"), ("lr=0.2", "wd=0"), ("lr=0.2", "wd=1"), ("lr=0.3", "wd=0")]


def test_jobs_that_differ_only_in_their_seed_form_one_group():
    groups = groups_of(JOBS)
    assert [group.overrides for group in groups] == [("+arm=s/a",), ("+arm=s/b",)]
    assert groups[0].jobs == (("+arm=s/a", "seed=0"), ("+arm=s/a", "seed=1"))


def test_every_arm_draws_the_same_number_of_configurations_and_the_draw_is_repeatable():
    first, again = draw(GRID, 3, seed=0, arm="a"), draw(GRID, 3, seed=0, arm="a")
    assert len(first) == 3 and len(set(first)) == 3 and first == again
    assert draw(GRID[:3], 3, seed=5, arm="b") == GRID[:3]  # a grid of exactly trials is tried whole


def test_an_arm_whose_grid_is_smaller_than_the_trials_is_refused():
    with pytest.raises(ConfigError, match="study.search.*every arm must offer at least study.selection.trials=4"):
        draw(GRID[:2], 4, seed=0, arm="+arm=s/a")


def test_the_best_validation_score_wins_and_failed_trials_are_skipped():
    tried = GRID[:3]
    assert choose(tried, [0.7, math.nan, 0.9]) == GRID[2]
    assert choose(tried, [0.8, 0.8, 0.7]) == GRID[0]  # ties: the first tried
    assert choose(tried, [math.nan] * 3) is None


def test_selection_runs_use_the_selection_seed_and_are_marked_and_final_runs_carry_the_choice():
    (group, _) = groups_of(JOBS)
    assert selection_jobs(group, GRID[:2], seed=7) == [
        ("+arm=s/a", "lr=0.1", "wd=0", "seed=7", SELECT_STAGE),
        ("+arm=s/a", "lr=0.1", "wd=1", "seed=7", SELECT_STAGE),
    ]
    assert final_jobs(group, GRID[3]) == [
        ("+arm=s/a", "seed=0", "lr=0.2", "wd=1"),
        ("+arm=s/a", "seed=1", "lr=0.2", "wd=1"),
    ]


def test_a_selection_run_is_recognised_from_its_config():
    assert is_selection_run({"study": {"stage": "select"}})
    assert not is_selection_run({"study": {"stage": "final"}}) and not is_selection_run({})


def test_search_values_are_a_sweep_string_or_a_list_of_values():
    grid = search_grid({"model.dim": "32,64", "model.layers": [2, 3], "optimizer.lr": 0.01})
    assert grid == {"model.dim": "32,64", "model.layers": "2,3", "optimizer.lr": "0.01"}
    with pytest.raises(ConfigError, match="study.search.model.dim"):
        search_grid({"model.dim": {"a": 1}})
