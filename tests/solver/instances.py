"""Random DSCT instances for the solver tests, including adversarial families."""

from __future__ import annotations

import numpy as np

from app.solver import Problem

KINDS = (
    "random",
    "equal_deadlines",
    "zero_deadlines",
    "before_available",
    "infinite_t_max",
    "theta_ratio_1e4",
    "one_machine",
    "speeds_1e3_apart",
    "busy_machines",
    "paper",
)


def make_instance(rng: np.random.Generator, kind: str, n: int, m: int) -> Problem:
    """An instance of the given family. All families keep numbers in a sane range."""
    if kind == "one_machine":
        m = 1
    d = rng.uniform(0.0, 10.0, n)
    theta = rng.uniform(0.1, 5.0, n)
    a_min = rng.uniform(0.0, 0.2, n)
    a_max = a_min + rng.uniform(0.05, 0.8, n)
    t_max = rng.uniform(0.1, 6.0, n)
    t_max[rng.random(n) < 0.2] = np.inf
    speed = rng.uniform(0.5, 3.0, m)
    avail = np.zeros(m)
    if kind == "equal_deadlines":
        d = np.full(n, float(rng.uniform(0.5, 5.0)))
        d[rng.random(n) < 0.3] = 2.0
    elif kind == "zero_deadlines":
        d[rng.random(n) < 0.4] = 0.0
    elif kind == "before_available":
        avail = rng.uniform(2.0, 6.0, m)
        d[: n // 2] = rng.uniform(0.0, 2.0, n // 2)  # before every machine is free
    elif kind == "infinite_t_max":
        t_max[:] = np.inf
    elif kind == "theta_ratio_1e4":
        theta = 10.0 ** rng.uniform(-2.0, 2.0, n)
        theta[0], theta[-1] = 0.01, 100.0
    elif kind == "speeds_1e3_apart":
        speed = 10.0 ** rng.uniform(-1.5, 1.5, m)
    elif kind == "busy_machines":
        avail = rng.uniform(0.0, 8.0, m)
    elif kind == "paper":  # section VII: a in [0.001, 0.82], theta in [0.1, 1], rho = 0.35
        theta = rng.uniform(0.1, 1.0, n)
        a_min = np.full(n, 0.001)
        a_max = np.full(n, 0.82 + 1e-3)
        t_max = -np.log1p(-(0.82 - 0.001) / (a_max - a_min)) / theta
        d = rng.uniform(0.0, 0.35 * t_max.sum() / m, n)
        speed = np.ones(m)
    return Problem(d, theta, a_min, a_max, t_max, speed, avail)
