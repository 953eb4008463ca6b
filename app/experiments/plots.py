"""The figures as PNG files. matplotlib is the optional ``plots`` extra: imported lazily here,
never by the service. Small files: dpi 100."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DPI = 100
#: legend names: the paper's for its baselines
LABELS = {
    "fractional": "DSCT-UB (fractional)",
    "edf-3levels-lee-song": "EDF-3COMPRESSIONLEVELS\n(Lee-Song two-phase)",
    "edf-3levels": "edf-3levels\n(highest level first)",
    "edf-nocompression": "EDF-NOCOMPRESSION",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path, tight: bool = True) -> None:
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _sel(rows: list[dict], **kw) -> list[dict]:
    return [r for r in rows if all(r[k] == v for k, v in kw.items())]


def plot_fig2(rows: list[dict], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    g = _sel(rows, algorithm="dsct-approx")
    ax.plot([r["mu"] for r in g], [r["G"] for r in g], "k--", label="guarantee G (Theorem 3)")
    for algo, color in (("dsct-approx", "C0"), ("dsct-refined", "C1"), ("exact", "C2")):
        s = _sel(rows, algorithm=algo)
        if not s:
            continue
        mu = [r["mu"] for r in s]
        ax.plot(mu, [r["gap_mean"] for r in s], color=color, marker="o", ms=3,
                label=f"UB - {algo} (mean; min-max shaded; {s[0]['instances']} inst.)")
        ax.fill_between(mu, [r["gap_min"] for r in s], [r["gap_max"] for r in s], color=color, alpha=0.2)
    ax.set_xlabel("task heterogeneity mu = theta_max / theta_min")
    ax.set_ylabel("accuracy gap to the fractional bound")
    ax.set_title("Fig. 2: optimality gap (rho = 0.35, m = 2, n = 100)")
    ax.legend(fontsize=7)
    _save(plt, fig, path)


def plot_fig3(rows: list[dict], path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, sweep, x in ((axes[0], "n", "n"), (axes[1], "m", "m")):
        for algo in ("dsct-approx", "exact", "clarabel-relaxation"):
            s = _sel(rows, sweep=sweep, algorithm=algo)
            ax.plot([r[x] for r in s], [r["time_median"] for r in s], marker="o", ms=3, label=algo)
        ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel("median solve time (s)")
        ax.set_title("m = 5" if sweep == "n" else "n = 50")
        ax.legend(fontsize=7)
    fig.suptitle("Fig. 3: solve times", fontsize=10)
    _save(plt, fig, path)


def plot_fig4(rows: list[dict], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for algo in ("fractional", "dsct-approx", "edf-3levels-lee-song", "edf-3levels",
                 "edf-nocompression"):
        s = _sel(rows, algorithm=algo)
        if s:
            ax.plot([r["rho"] for r in s], [r["mean_accuracy"] for r in s], marker="o", ms=3,
                    label=LABELS.get(algo, algo))
    ax.set_xlabel("deadline tolerance rho")
    ax.set_ylabel("mean accuracy per task")
    ax.set_title("Fig. 4: m = 10, n = 100, theta = 0.1")
    ax.legend(fontsize=8)
    _save(plt, fig, path)


def plot_fig5(rows: list[dict], path: Path) -> None:
    plt = _plt()
    algos = [a for a in ("dsct-approx", "edf-3levels-lee-song", "edf-3levels", "edf-nocompression")
             if _sel(rows, algorithm=a)]
    rhos = sorted({r["rho"] for r in rows})
    bins = sorted({r["bin_lo"] for r in rows})
    fig, axes = plt.subplots(1, len(algos), figsize=(4 * len(algos), 3.8), sharey=True)
    for ax, algo in zip(axes, algos, strict=True):
        grid = np.zeros((len(bins), len(rhos)))
        for r in _sel(rows, algorithm=algo):
            grid[bins.index(r["bin_lo"]), rhos.index(r["rho"])] = 100.0 * r["fraction"]
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=100,
                       extent=(rhos[0] - 0.05, rhos[-1] + 0.05, 0.0, 1.0))
        ax.set_title(LABELS.get(algo, algo), fontsize=9)
        ax.set_xlabel("rho")
    axes[0].set_ylabel("task accuracy")
    fig.colorbar(im, ax=axes, label="% of tasks")
    fig.suptitle("Fig. 5: distribution of per-task accuracy", fontsize=10)
    _save(plt, fig, path, tight=False)
