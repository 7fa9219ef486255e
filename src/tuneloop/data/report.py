"""The self-contained HTML data report: verdict, findings, length histograms, categories, cluster map,
duplicate / conflict / contamination tables and the sensitive-data table (spans masked)."""

from __future__ import annotations

from typing import Any

from tuneloop.reports import Report, bar_chart, histogram, scatter


def _loc(item: dict[str, Any] | None) -> str:
    return f"{item['file']}:{item['line']}" if item else ""


def render_html(report: dict[str, Any], charts: dict[str, Any]) -> str:
    dataset, gate = report["dataset"], report["gate"]
    page = Report(
        title=f"Data report: {dataset['name']}",
        subtitle=f"{dataset['records']} {dataset['kind']} records, digest {dataset['digest'][:16]}",
    )
    page.key_values([
        ("gate", "passed" if gate["passed"] else "failed"),
        ("errors", gate["errors"]),
        ("warnings", gate["warnings"]),
        ("goal", dataset["goal"]),
        ("files", ", ".join(f"{f['path']} ({f['format']}, {f['records']})" for f in dataset["files"])),
    ])  # fmt: skip
    page.heading("Findings")
    rows = [(f["severity"], f["check"], f["code"], f["message"]) for f in report["findings"]]
    page.table(["severity", "check", "code", "message"], rows or [("ok", "", "", "no findings")],
               row_classes=[f["severity"] for f in report["findings"]] or None, table_id="findings",
               filters=[("errors", "error"), ("warnings", "warning")])  # fmt: skip
    _lengths(page, report, charts)
    _categories(page, report, charts)
    _records(page, report)
    _duplicates(page, report)
    _conflicts(page, report)
    _production(page, report)
    _sensitive(page, report)
    _contamination(page, report)
    _estimate(page, report)
    return page.render()


def _lengths(page: Report, report: dict[str, Any], charts: dict[str, Any]) -> None:
    tokens = report.get("tokens")
    page.heading("Lengths")
    if tokens:
        page.key_values([(k, v) for k, v in tokens["tokens"].items()] + [
            ("assistant token share", f"{tokens['assistant_token_share']:.1%}"),
            ("over max length", f"{tokens['overlength']} (policy: {tokens['policy']})"),
        ])  # fmt: skip
        page.raw(histogram(charts.get("token_lengths", []), title="tokens per example (chat template applied)",
                           marker=tokens["max_length"], marker_label=f"max_length {tokens['max_length']}"))  # fmt: skip
        if tokens["overlength_examples"]:
            page.table(["where", "tokens", "assistant tokens lost", "final answer survives"],
                       [(_loc(e), e["tokens"], e["assistant_tokens_lost"], "yes" if e["final_answer_survives"] else "no")
                        for e in tokens["overlength_examples"]])  # fmt: skip
    else:
        page.paragraph("No tokenizer: token counts were not measured; word counts below.", "muted")
    page.key_values([(f"words {k}", v) for k, v in (report.get("lengths_words") or {}).items()])


def _categories(page: Report, report: dict[str, Any], charts: dict[str, Any]) -> None:
    balance, diversity = report.get("balance") or {}, report.get("diversity") or {}
    page.heading("Balance and diversity")
    counts = charts.get("categories")
    if counts:
        page.raw(
            bar_chart(
                list(counts),
                list(counts.values()),
                title=f"examples per {balance.get('tag') or 'label'}",
                value_format="{:.0f}",
            )
        )
    items = [(k, v) for k, v in balance.items() if k not in ("distribution", "tag")]
    labels = report.get("labels")
    if labels:
        items += [("labels", labels["labels"]), ("label imbalance (commonest / rarest)", f"{labels['imbalance_ratio']:.1f}"),
                  ("commonest label", f"{labels['commonest']['label']} ({labels['commonest']['count']})"),
                  ("rarest label", f"{labels['rarest']['label']} ({labels['rarest']['count']})")]  # fmt: skip
    for side in ("answers", "prompts"):
        items += [(f"{side} {k}", v) for k, v in (diversity.get(side) or {}).items()]
    clusters = diversity.get("clusters")
    if clusters:
        items += [(f"clusters {k}", v) for k, v in clusters.items() if k != "sizes"]
    page.key_values(items)
    if "cluster_map" in charts:
        points, labels = charts["cluster_map"]
        page.raw(scatter(points, labels=labels, title="prompt embeddings (PCA), coloured by cluster"))


def _records(page: Report, report: dict[str, Any]) -> None:
    """Single records with a problem: answers that loop (conversations without a user turn are findings)."""
    repetition = report.get("repetition") or {}
    if repetition.get("items"):
        page.heading(f"Repetitive answers ({repetition['records']})")
        page.table(["where", "repeated share", "words", "text"],
                   [(_loc(i), f"{i['repeated_share']:.0%}", i["words"], i["text"]) for i in repetition["items"]])  # fmt: skip


def _duplicates(page: Report, report: dict[str, Any]) -> None:
    dups = report.get("duplicates") or {}
    page.heading(f"Duplicates ({dups.get('removable', 0)} removable)")
    for key, value in (dups.get("method") or {}).items():
        page.paragraph(f"{key}: {value}", "muted")
    rows = []
    for cluster in dups.get("clusters", []):
        rows.append(
            ("kept", _loc(cluster["kept"]), "representative (first in file order)", cluster["kept"]["text"])
        )
        rows.extend(("remove", _loc(m), m["reason"], m["text"]) for m in cluster["members"])
    if rows:
        page.table(["action", "where", "reason", "text"], rows)


def _conflicts(page: Report, report: dict[str, Any]) -> None:
    conflicts = report.get("conflicts") or {}
    page.heading(f"Conflicts ({conflicts.get('groups', 0)} groups)")
    rows = [(c["kind"], c["reason"], c["prompt"], "; ".join(f"{_loc(e)} {e['answer']}" for e in c["examples"]))
            for c in conflicts.get("items", [])]  # fmt: skip
    if rows:
        page.table(["kind", "reason", "prompt", "examples"], rows)


def _production(page: Report, report: dict[str, Any]) -> None:
    match = report.get("production_match")
    if not match:
        return
    page.heading(f"Production match ({match['uncovered_share']:.0%} uncovered)")
    page.key_values([(k, v) for k, v in match.items() if not isinstance(v, list | dict)] +
                    [(f"length {k}", v) for k, v in match["length_words"].items()])  # fmt: skip
    if match.get("categories"):
        page.table(["category", "train share", "production share", "delta"],
                   [(c["category"], f"{c['train_share']:.0%}", f"{c['production_share']:.0%}", f"{c['delta']:+.0%}") for c in match["categories"]])  # fmt: skip
    if match["uncovered_examples"]:
        page.table(
            ["where", "best similarity", "input"],
            [(_loc(e), e["similarity"], e["text"]) for e in match["uncovered_examples"]],
        )


def _sensitive(page: Report, report: dict[str, Any]) -> None:
    found = report.get("sensitive")
    if not found:
        return
    page.heading(f"Personal data and secrets ({found['total']})")
    if found["items"]:
        page.table(
            ["where", "field", "kind", "masked"],
            [(_loc(f), f["field"], f["kind"], f["masked"]) for f in found["items"]],
        )


def _contamination(page: Report, report: dict[str, Any]) -> None:
    found = report.get("contamination")
    if not found:
        return
    page.heading(f"Holdout contamination ({found['contaminated']} of {found['holdout_records']})")
    if found["items"]:
        page.table(
            ["holdout", "training", "reason", "text"],
            [(_loc(c), _loc(c["train"]), c["reason"], c["text"]) for c in found["items"]],
        )


def _estimate(page: Report, report: dict[str, Any]) -> None:
    estimate = report.get("estimate")
    if not estimate:
        return
    page.heading("Training cost estimate")
    page.key_values([(k, v) for k, v in estimate.items() if not isinstance(v, list)])
    if estimate.get("gpus"):
        page.table(["GPU", "peak BF16 TFLOPS", "estimated time", "source"],
                   [(g["gpu"], g["peak_bf16_tflops"], duration(g["seconds"]), g["source"]) for g in estimate["gpus"]])  # fmt: skip


def duration(seconds: float) -> str:
    """Seconds as a short human duration."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
