"""Problem validation: every bad field is named, with its index."""

from __future__ import annotations

import numpy as np
import pytest

from app.solver import DomainError, Problem

GOOD = dict(deadline=[1.0, 2.0], theta=[1.0, 2.0], a_min=[0.0, 0.1], a_max=[0.9, 0.8],
            t_max=[1.0, np.inf], speed=[1.0, 2.0], available_at=[0.0, 0.5])


@pytest.mark.parametrize(
    ("field", "index", "value"),
    [
        ("deadline", 1, np.nan), ("deadline", 0, -1.0), ("deadline", 1, np.inf),
        ("theta", 0, 0.0), ("theta", 1, -2.0), ("theta", 0, np.nan),
        ("a_max", 1, 0.1), ("a_max", 0, -0.5), ("a_min", 1, np.inf),
        ("t_max", 0, 0.0), ("t_max", 1, np.nan), ("t_max", 0, -np.inf),
        ("speed", 1, 0.0), ("speed", 0, -1.0), ("speed", 0, np.inf),
        ("available_at", 1, -0.1), ("available_at", 0, np.nan),
    ],
)
def test_bad_value_names_field_and_index(field: str, index: int, value: float) -> None:
    kwargs = {k: list(v) for k, v in GOOD.items()}
    kwargs[field][index] = value
    with pytest.raises(DomainError) as err:
        Problem(**kwargs)
    assert err.value.field == field
    assert err.value.index == index
    assert f"{field}[{index}]" in str(err.value)


def test_length_mismatch_and_no_machines() -> None:
    with pytest.raises(DomainError) as err:
        Problem(**{**GOOD, "theta": [1.0]})
    assert err.value.field == "theta"
    with pytest.raises(DomainError) as err:
        Problem(**{**GOOD, "speed": [], "available_at": []})
    assert err.value.field == "speed"


def test_arrays_are_read_only_copies() -> None:
    d = np.array([1.0, 2.0])
    p = Problem(**{**GOOD, "deadline": d})
    d[0] = 99.0
    assert p.deadline[0] == 1.0
    with pytest.raises(ValueError):
        p.deadline[0] = 5.0


def test_capacity_matches_definition() -> None:
    rng = np.random.default_rng(0)
    p = Problem([1.0], [1.0], [0.0], [1.0], [1.0], rng.uniform(0.1, 3, 7), rng.uniform(0, 5, 7))
    t = rng.uniform(-1, 10, 50)
    direct = np.maximum(t[:, None] - p.available_at[None, :], 0.0) @ p.speed
    assert np.allclose(p.capacity(t), direct, rtol=1e-12, atol=1e-12)


def test_guarantee_formula() -> None:
    p = Problem(**GOOD)
    assert p.guarantee() == pytest.approx(2 * 0.9 * (1 + np.log(2.0) / np.e))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("theta", 5e-324, "/ theta overflows"), ("deadline", 1e308, "overflows")],
)
def test_meaningless_extremes_are_named(field: str, value: float, words: str) -> None:
    kwargs = {k: list(v) for k, v in GOOD.items()}
    kwargs[field][1] = value
    with pytest.raises(DomainError) as err:
        Problem(**kwargs)
    assert err.value.field == field and err.value.index == 1 and words in err.value.message


@pytest.mark.parametrize("value", [1e308, 5e-324, 1e-300, 1e300])
@pytest.mark.parametrize("field", ["deadline", "theta", "t_max", "speed", "available_at", "a_min", "a_max"])
def test_extreme_but_valid_numbers_solve_finitely(field: str, value: float) -> None:
    from app.solver import ALGORITHMS, check, options_of, solve

    kwargs = {k: list(v) for k, v in GOOD.items()}
    if field in ("a_min", "a_max"):
        value = min(value, 1.0)
        kwargs["a_min"] = [0.0, 0.0]
        kwargs[field][0] = value if field == "a_max" else 0.0
    else:
        kwargs[field][0] = value
    try:
        p = Problem(**kwargs)
    except DomainError as err:
        # refused, naming the field (or the deadline whose capacity overflows): acceptable
        assert err.field in (field, "deadline"), err
        return
    for algo in sorted(ALGORITHMS):
        sol = solve(p, algo, **({"time_limit": 2.0} if "time_limit" in options_of(algo) else {}))
        for name in ("start", "duration", "work", "accuracy"):
            assert np.all(np.isfinite(getattr(sol, name))), (algo, name)
        assert np.isfinite(sol.total_accuracy) and np.isfinite(sol.upper_bound)
        assert sol.guarantee is None or np.isfinite(sol.guarantee)
        assert check(p, sol).ok, (algo, check(p, sol).violations)
