"""tuneloop: a self-hosted system for the whole LLM fine-tuning lifecycle.

Run ``tuneloop --help`` for the verbs; each stage's public API is its package ``__init__``.
"""

__version__ = "0.1.0"
