"""Render an experiment document: terminal leaderboard, JSON, CSV, Markdown and HTML with a plot."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from cinesync.extras import require


def _columns(doc: dict[str, Any]) -> list[str]:
    """NDCG and Recall at every K, HR and MRR at the first K."""
    ks = doc["config"]["k"]
    return [f"{m}@{k}" for k in ks for m in ("ndcg", "recall")] + [f"{m}@{ks[0]}" for m in ("hr", "mrr")]


def _best(doc: dict[str, Any], col: str) -> str | None:
    vals = {m: r.get(col) for m, r in doc["results"].items() if r.get(col) is not None}
    return max(vals, key=vals.get) if vals else None


def _marker(doc: dict[str, Any], model: str, col: str) -> str:
    """'*' when the model is significantly worse than the best (Wilcoxon, Holm, p < 0.05)."""
    sig = doc.get("significance", {}).get(col)
    if not sig or sig["best"] == model:
        return ""
    return "*" if sig["vs_best"].get(model, {}).get("significant") else ""


def cell(doc: dict[str, Any], model: str, col: str) -> str:
    """'0.1234 ±0.0101*' — mean, half-width of the 95 % CI, significance marker."""
    v = doc["results"][model].get(col)
    if v is None:
        return "–"
    ci = doc.get("ci95", {}).get(model, {}).get(col)
    half = f" ±{(ci[1] - ci[0]) / 2:.4f}" if ci and None not in ci else ""
    return f"{v:.4f}{half}{_marker(doc, model, col)}"


def leaderboard_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]], dict[str, str | None]]:
    """Header, rows and the best model per column (models sorted by the first column)."""
    cols = _columns(doc)
    first = cols[0]
    order = sorted(doc["results"], key=lambda m: -(doc["results"][m].get(first) or -1.0))
    header = ["model", *cols, f"coverage@{doc['config']['k'][0]}", "fit s", "eval s"]
    rows = []
    for m in order:
        cov = doc["results"][m].get(f"coverage@{doc['config']['k'][0]}")
        t = doc["timing"][m]
        rows.append([m, *(cell(doc, m, c) for c in cols), "–" if cov is None else f"{cov:.3f}",
                     f"{t['fit_seconds']:.1f}", f"{t['eval_seconds']:.1f}"])
    return header, rows, {c: _best(doc, c) for c in cols}


def print_leaderboard(doc: dict[str, Any], console: Any = None) -> None:
    """Rich table in the terminal: best value per column in bold."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    header, rows, best = leaderboard_rows(doc)
    c = doc["config"]
    table = Table(title=f"{c['dataset']} · {c['protocol']} · seed {c['seed']} "
                        f"({'tuned on validation' if c['tuned_on'] else 'fixed configs'})")
    for h in header:
        table.add_column(h, justify="left" if h == "model" else "right")
    for row in rows:
        styled = [row[0]] + [f"[bold]{v}[/bold]" if best.get(h) == row[0] else v
                             for h, v in zip(header[1:], row[1:], strict=True)]
        table.add_row(*styled)
    console.print(table)
    console.print("mean ±95 % bootstrap CI half-width over test users; * = significantly worse than the best "
                  "model (Wilcoxon signed-rank, Holm-corrected, p < 0.05)")


def write_json(doc: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(doc, indent=2, default=str))


def write_csv(doc: dict[str, Any], path: str | Path) -> None:
    """One row per model: every mean metric, CI bounds and timings."""
    keys = sorted({k for r in doc["results"].values() for k in r})
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        ci_keys = sorted({k for r in doc["ci95"].values() for k in r})
        w.writerow(["model", *keys, *(f"{k}_ci_lo" for k in ci_keys), *(f"{k}_ci_hi" for k in ci_keys),
                    "fit_seconds", "eval_seconds", "dataset", "protocol", "seed", "data_checksum"])
        for m, r in doc["results"].items():
            ci = doc["ci95"][m]
            w.writerow([m, *(r.get(k) for k in keys), *(ci.get(k, [None, None])[0] for k in ci_keys),
                        *(ci.get(k, [None, None])[1] for k in ci_keys), doc["timing"][m]["fit_seconds"],
                        doc["timing"][m]["eval_seconds"], doc["config"]["dataset"], doc["config"]["protocol"],
                        doc["config"]["seed"], doc["data"]["checksum"]])


def plot(doc: dict[str, Any]) -> bytes:
    """PNG: NDCG with 95 % CIs per model, and accuracy vs catalogue coverage."""
    require("matplotlib", extra="reports", what="report plots")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = doc["config"]["k"][0]
    col = f"ndcg@{k}"
    models = sorted(doc["results"], key=lambda m: doc["results"][m].get(col) or 0.0)
    vals = [doc["results"][m].get(col) or 0.0 for m in models]
    ci = [doc["ci95"][m].get(col, [v, v]) for m, v in zip(models, vals, strict=True)]
    err = [[v - (c[0] if c[0] is not None else v) for v, c in zip(vals, ci, strict=True)],
           [(c[1] if c[1] is not None else v) - v for v, c in zip(vals, ci, strict=True)]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(models) + 2.2))
    axes[0].barh(models, vals, xerr=err, color="#4c72b0", capsize=3)
    axes[0].set_xlabel(f"NDCG@{k} (95 % CI)")
    axes[0].set_title(f"{doc['config']['dataset']} · {doc['config']['protocol']}")
    cov = [doc["results"][m].get(f"coverage@{k}") or 0.0 for m in models]
    axes[1].scatter(cov, vals, color="#dd8452")
    for m, x, y in zip(models, cov, vals, strict=True):
        axes[1].annotate(m, (x, y), textcoords="offset points", xytext=(4, 2), fontsize=8)
    axes[1].set_xlabel(f"catalogue coverage@{k}")
    axes[1].set_ylabel(f"NDCG@{k}")
    axes[1].set_title("accuracy vs coverage")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def markdown_table(doc: dict[str, Any]) -> str:
    header, rows, best = leaderboard_rows(doc)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"**{v}**" if best.get(h) == row[0] else v for h, v in zip(header, row, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(doc: dict[str, Any], directory: str | Path) -> Path:
    """Write report.md, report.html (plot embedded) and leaderboard.png into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    png = plot(doc)
    (d / "leaderboard.png").write_bytes(png)
    c = doc["config"]
    intro = (f"Dataset `{c['dataset']}`, protocol `{c['protocol']}`, seed {c['seed']}, "
             f"hyper-parameters {'tuned on validation' if c['tuned_on'] else 'fixed'}; data checksum "
             f"`{doc['data']['checksum'][:12]}`.")
    md = "\n\n".join([f"# CineSync evaluation: {c['dataset']} / {c['protocol']}", intro, markdown_table(doc),
                      "`*` significantly worse than the best (Wilcoxon signed-rank, Holm, p < 0.05); "
                      "± is the half-width of a 95 % bootstrap CI over test users.",
                      "![leaderboard](leaderboard.png)",
                      "## Data\n\n" + "\n".join(f"- {x}" for x in doc["data"]["log"])])
    (d / "report.md").write_text(md + "\n")
    header, rows, _ = leaderboard_rows(doc)
    table = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows) + "</table>"
    img = base64.b64encode(png).decode()
    (d / "report.html").write_text(
        f"<!doctype html><meta charset=utf-8><title>CineSync evaluation</title>"
        f"<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 10px;border-bottom:1px solid #ddd;"
        f"text-align:right}}td:first-child{{text-align:left}}</style>"
        f"<h1>{html.escape(c['dataset'])} / {html.escape(c['protocol'])}</h1><p>{html.escape(intro)}</p>{table}"
        f"<p><img src='data:image/png;base64,{img}' alt='leaderboard plot'></p>")
    return d
