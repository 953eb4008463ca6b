"""The experiments command end to end on a tiny run, and the section VII generator."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from app.experiments.cli import main
from app.experiments.generator import A_TARGET, THETA_MIN, Reading, generate
from app.experiments.runner import FIG5_BINS, FIG45_ALGOS


def _rows(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_command_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "res"
    rc = main(["--out", str(out), "--instances", "2", "--exact-instances", "1",
               "--fig3-instances", "1", "--fig3-n", "6,8", "--fig3-m", "2", "--time-limit", "1",
               "--fig2-time-limit", "1", "--workers", "1", "--seed", "5", "--mus", "1,20",
               "--rhos", "0,0.7,1.5"])
    assert rc == 0
    for k in (2, 3, 4, 5):
        png = out / f"fig{k}.png"
        assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"

    f2 = _rows(out / "fig2.csv")
    assert list(f2[0]) == ["mu", "G", "algorithm", "instances", "gap_mean", "gap_min", "gap_max",
                           "mean_over_G", "optimal"]
    assert len(f2) == 3 * 2
    for r in f2:
        assert float(r["gap_min"]) <= float(r["gap_mean"]) <= float(r["gap_max"]) <= float(r["G"])
        assert float(r["gap_min"]) >= -1e-9  # nothing beats the fractional bound

    f3 = _rows(out / "fig3.csv")
    assert [(r["sweep"], r["n"], r["m"]) for r in f3[::3]] == [("n", "6", "5"), ("n", "8", "5"), ("m", "50", "2")]
    assert {r["algorithm"] for r in f3} == {"dsct-approx", "exact", "clarabel-relaxation"}

    f4 = _rows(out / "fig4.csv")
    assert len(f4) == 3 * len(FIG45_ALGOS)
    by = {(float(r["rho"]), r["algorithm"]): float(r["mean_accuracy"]) for r in f4}
    for rho in (0.0, 0.7, 1.5):  # the bound dominates every algorithm
        assert all(by[(rho, a)] <= by[(rho, "fractional")] + 1e-9 for a in FIG45_ALGOS)
    assert by[(1.5, "edf-nocompression")] == pytest.approx(A_TARGET)  # the paper's check

    f5 = _rows(out / "fig5.csv")
    assert len(f5) == 3 * len(FIG45_ALGOS) * (len(FIG5_BINS) - 1)
    sums: dict = {}
    for r in f5:
        key = (r["rho"], r["algorithm"])
        sums[key] = sums.get(key, 0.0) + float(r["fraction"])
    assert all(s == pytest.approx(1.0) for s in sums.values())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fig5_rho0.7_dsct-approx"]["below_0.3"] >= 0.0
    assert 0.0 <= summary["fig2_dsct-approx_mean_gap_over_G_avg"] < 1.0
    meta = json.loads((out / "run.json").read_text())
    assert meta["instances"] == 2 and set(meta["seconds"]) >= {"fig2", "fig3", "fig4_5", "total"}


@pytest.mark.parametrize("text", ["equal", "uniform-cap", "half-lift-0.9", "uniform-lift-0.82"])
@pytest.mark.parametrize("mu", [1.0, 7.5, 20.0])
def test_generator(text: str, mu: float) -> None:
    reading = Reading.parse(text)
    rng = np.random.default_rng(1)
    n, m, rho = 40, 3, 0.35
    p = generate(rng, n, m, rho, mu=mu, reading=reading)
    d_max = p.deadline.max()
    assert m * d_max / p.t_max.sum() == pytest.approx(rho, rel=1e-12)
    assert np.all(p.theta >= THETA_MIN) and np.all(p.theta <= mu * THETA_MIN)
    reached = p.accuracy(p.t_max)
    if reading.accuracy == "lift":
        np.testing.assert_allclose(reached, A_TARGET, rtol=1e-12)
    else:
        assert np.all(p.a_max == A_TARGET) and np.all(reached < A_TARGET)
    np.testing.assert_allclose(p.a_min, 1e-3)
    assert np.all(p.speed == 1.0) and np.all(p.available_at == 0.0)
    if reading.deadlines == "equal":
        assert np.all(p.deadline == d_max)
    elif reading.deadlines == "half":
        assert p.deadline.min() >= d_max / 2
    # reproducible from the seed
    q = generate(np.random.default_rng(1), n, m, rho, mu=mu, reading=reading)
    assert np.array_equal(p.theta, q.theta) and np.array_equal(p.deadline, q.deadline)


def test_fixed_theta_and_bad_reading() -> None:
    p = generate(np.random.default_rng(0), 10, 2, 1.0, theta=0.1)
    assert np.all(p.theta == 0.1)
    with pytest.raises(ValueError):
        Reading.parse("sometimes")


def test_readings_scan_checks_agree_with_the_figure_summary(capsys, tmp_path: Path) -> None:
    """The readings scan's numbers are the ones the figure command's summary computes."""
    from app.experiments import readings
    from app.experiments.summary import summarize

    assert readings.main(["--deadlines", "equal", "--reach", "0.99"]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    got = dict(zip(header.split(","), row.split(","), strict=True))
    assert main(["--out", str(tmp_path), "--figures", "4,5", "--instances", "1", "--rhos",
                 "0.4,0.7,1.0,1.5", "--no-plots", "--workers", "1"]) == 0
    s = summarize(tmp_path)
    assert float(got["ls_abs"]) == pytest.approx(
        s["fig4_rho0.4_ahead_of_edf-3levels-lee-song"]["abs"], abs=1e-4)
    assert float(got["nocomp_rel"]) == pytest.approx(
        s["fig4_rho0.4_ahead_of_edf-nocompression"]["rel"], abs=1e-4)
    assert float(got["approx_in_0.7_0.8"]) == pytest.approx(
        s["fig5_rho0.7_dsct-approx"]["in_0.7_0.8"], abs=1e-4)
    assert got["all_hold"] in ("True", "False")
