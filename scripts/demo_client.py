"""Ask a running `tuneloop serve` one question through the official openai SDK (used by `make demo`).

Usage: python scripts/demo_client.py BASE_URL MODEL "ticket text"   (the key in TUNELOOP_API_KEY)

Waits for ``/ready`` (the server loads the model first), sends one chat request, and prints the
answer with the exact version that produced it, as any OpenAI client would see it.
"""

from __future__ import annotations

import os
import sys
import time

import httpx
from openai import OpenAI

READY_TIMEOUT_S = 300


def wait_until_ready(base_url: str, key: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/ready", headers={"Authorization": f"Bearer {key}"}).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(1)
    raise SystemExit(f"the server at {base_url} was not ready after {READY_TIMEOUT_S} s")


def main() -> None:
    base_url, model, question = sys.argv[1:4]
    key = os.environ["TUNELOOP_API_KEY"]
    wait_until_ready(base_url, key)
    client = OpenAI(base_url=f"{base_url}/v1", api_key=key)
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], max_tokens=96, temperature=0
    )
    print(f"asked {model}; answered by {reply.model} (response id {reply.id})")
    print(reply.choices[0].message.content)


if __name__ == "__main__":
    main()
