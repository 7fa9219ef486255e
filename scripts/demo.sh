#!/usr/bin/env bash
# The tuneloop loop as far as it exists, on the bundled offline model. Run: `make demo`.
# Usage: scripts/demo.sh [DEMO_DIR]   (needs `tuneloop` on PATH; `make demo` sets that up)
set -euo pipefail
demo_dir="${1:-demo-project}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. create a project"
tuneloop init "$demo_dir" --force
cd "$demo_dir"

step "2. choose a base model: commercial use, at least 8k context"
tuneloop models recommend --commercial --min-context 8000 --top 5
tuneloop models show smollm2-135m-instruct --tokens-per-month 1e9

step "3. pull the bundled base model (converted from GGUF once, then cached)"
tuneloop models pull base:smollm2-135m-instruct

step "4. chat one prompt through it"
tuneloop chat base:smollm2-135m-instruct "In one sentence, what is fine-tuning a language model?" --max-new-tokens 80
