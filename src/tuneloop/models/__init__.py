"""Base models: the catalog and its choice, licence checks, resolving references, loading and chat.

Heavy modules (transformers, torch) are imported only by :mod:`loading` and :mod:`chat`.
"""

from tuneloop.models.refs import ModelRef, parse_model_ref

__all__ = ["ModelRef", "parse_model_ref"]
