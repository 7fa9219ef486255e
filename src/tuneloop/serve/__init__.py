"""Serving: an OpenAI-compatible server that follows the registry's aliases (``tuneloop serve``).

:mod:`.backend` is the contract between the HTTP layer (:mod:`.app`) and what generates
(:mod:`.engine` on this machine, :mod:`.upstream` for an outside engine such as vLLM).
"""
