"""Generate real model outputs to hand-label for the refusal detector's evaluation set.

Run: ``HF_HUB_OFFLINE=1 TUNELOOP_MODEL_CACHE=/work/cache/models nice -n 10 \
.venv/bin/python examples/redteam/generate_refusal_outputs.py --xstest ../shared/datasets/xstest/xstest_prompts.csv \
-o /tmp/outputs.jsonl [--model REF] [--system "..."] [--limit N]``

Writes one JSON line per prompt (prompt, output, source model, system prompt, XSTest label/type).
The outputs are labelled by a person (refused / complied) into ``tests/redteam/fixtures/refusal_labelled.jsonl``;
this script only produces the raw material, it never labels.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--xstest", type=Path, help="XSTest prompts CSV")
    parser.add_argument("--prompts", type=Path, help="JSONL with a 'prompt' field per line")
    parser.add_argument("--model", default="base:smollm2-135m-instruct")
    parser.add_argument("--system", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    import torch

    from tuneloop.models import autocast_context, load_model, resolve_model
    from tuneloop.project import Project

    torch.set_num_threads(1)
    rows: list[dict[str, str]] = []
    if args.xstest:
        with args.xstest.open(newline="", encoding="utf-8") as handle:
            rows += [
                {"prompt": r["prompt"], "xstest_label": r["label"], "xstest_type": r["type"]}
                for r in csv.DictReader(handle)
            ]
    if args.prompts:
        rows += [json.loads(line) for line in args.prompts.read_text().splitlines() if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    loaded = load_model(resolve_model(args.model, Project.open_optional()))
    tokenizer = loaded.tokenizer
    tokenizer.padding_side = "left"
    with args.output.open("w", encoding="utf-8") as out:
        for start in range(0, len(rows), args.batch_size):
            batch = rows[start : start + args.batch_size]
            texts = []
            for row in batch:
                system = row.get("system", args.system)
                messages = [{"role": "system", "content": system}] if system else []
                for user, assistant in row.get("shots") or []:  # in-context examples (phrasing variants)
                    messages += [
                        {"role": "user", "content": user},
                        {"role": "assistant", "content": assistant},
                    ]
                messages.append({"role": "user", "content": row["prompt"]})
                texts.append(
                    tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
                )
            inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode(), autocast_context("cpu"):
                generated = loaded.model.generate(
                    **inputs,
                    max_new_tokens=args.max_new_tokens,
                    do_sample=False,
                    repetition_penalty=1.1,
                    pad_token_id=tokenizer.pad_token_id,
                )
            for row, ids in zip(batch, generated[:, inputs["input_ids"].shape[1] :], strict=True):
                output = tokenizer.decode(ids, skip_special_tokens=True).strip()
                record = {
                    **row,
                    "output": output,
                    "source_model": args.model,
                    "system": row.get("system", args.system),
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            print(f"{start + len(batch)}/{len(rows)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
