"""The one entry point, ``solve``: unknown names and options refused, every result checked finite."""

from __future__ import annotations

import numpy as np
import pytest

from app.solver import (
    ALGORITHMS,
    DomainError,
    Problem,
    UnknownOptionError,
    finite_solution,
    options_of,
    solve,
)
from app.solver.schedule import make_solution

P = Problem([1.0, 2.0], [1.0, 3.0], [0.0, 0.1], [1.0, 0.9], [1.0, np.inf], [1.0, 2.0], [0.0, 0.5])


def test_options_are_the_algorithms_keyword_parameters() -> None:
    assert "time_limit" in options_of("exact")
    for name in ("dsct-approx", "dsct-refined", "edf-nocompression", "edf-3levels"):
        assert options_of(name) == frozenset(), name


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_an_option_the_algorithm_does_not_take_is_refused(algorithm: str) -> None:
    with pytest.raises(UnknownOptionError) as err:
        solve(P, algorithm, colour="red")
    assert err.value.field == "colour" and "colour" in err.value.message and algorithm in err.value.message
    for taken in options_of(algorithm):
        assert taken in err.value.message


def test_time_limit_goes_only_to_the_algorithms_that_take_it() -> None:
    with pytest.raises(UnknownOptionError, match="time_limit"):
        solve(P, "dsct-approx", time_limit=1.0)
    assert solve(P, "exact", time_limit=5.0).total_accuracy > 0


def _returning(**arrays):
    def algo(problem):
        sol = make_solution(problem, machine=[0, 1], start=[0.0, 0.0], duration=[0.5, 0.5],
                            work=[0.5, 1.0], upper_bound=2.0, algorithm="fake")
        return sol if not arrays else type(sol)(**{**sol.__dict__, **arrays})

    return algo


@pytest.mark.parametrize("field", ["start", "duration", "work", "accuracy"])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_a_result_that_is_not_finite_is_refused(monkeypatch, field: str, bad: float) -> None:
    monkeypatch.setitem(ALGORITHMS, "fine", _returning())
    assert finite_solution(solve(P, "fine"))
    values = np.array([0.5, bad])
    monkeypatch.setitem(ALGORITHMS, "broken", _returning(**{field: values}))
    with pytest.raises(DomainError) as err:
        solve(P, "broken")
    assert err.value.kind == "overflow" and "overflow" in err.value.message


@pytest.mark.parametrize("field", ["total_accuracy", "upper_bound", "guarantee", "proven_bound"])
def test_a_bound_that_is_not_finite_is_refused(monkeypatch, field: str) -> None:
    monkeypatch.setitem(ALGORITHMS, "broken", _returning(**{field: float("inf")}))
    with pytest.raises(DomainError):
        solve(P, "broken")
