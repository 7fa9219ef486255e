"""Tables of the evaluation stage: per-item scores of every evaluation (migration 0004_eval).

The ``evaluations`` table holds one row per evaluated candidate with its summary; the JSON report
artifact holds everything. Per-item scores are also kept here so questions such as "which items did
version 7 get wrong that version 6 got right?" are one query (``tuneloop eval compare``), without
loading reports.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tuneloop.store.table_base import Base


class EvalItemScoreRecord(Base):
    """One score of one item for one model within an evaluation."""

    __tablename__ = "eval_item_scores"
    __table_args__ = (
        Index("ix_eval_item_scores_evaluation_metric", "evaluation_id", "metric"),
        Index("ix_eval_item_scores_item", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"))
    model_reference: Mapped[str] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(20))
    """``candidate``, ``foundation``, ``parent``, ``production`` or ``baseline``."""
    model_identity: Mapped[str] = mapped_column(String(64))
    """Hash of the exact weights (base and adapter) that answered."""
    item_id: Mapped[str] = mapped_column(String(64))
    """Content hash of the item (same item, same id, in every evaluation)."""
    category: Mapped[str | None] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    score: Mapped[float | None] = mapped_column(Float)
    """None when the item could not be scored (e.g. the judge never answered parseably)."""
    error: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    """The item's index in the suite."""
