"""The project store: SQLAlchemy tables with Alembic migrations, and a content-addressed artifact store.

Table modules are imported here so ``Base.metadata`` always holds the whole schema (a test compares it
with the migrated database).
"""

from tuneloop.store import tables_evaluate, tables_foundation, tables_lifecycle, tables_monitor, tables_serve
from tuneloop.store.artifacts import (
    ArtifactStore,
    atomic_write_bytes,
    atomic_write_lines,
    atomic_write_text,
    sha256_bytes,
    sha256_file,
    sha256_tree,
)
from tuneloop.store.db import DB_URL_ENV, Store, database_url
from tuneloop.store.table_base import Base, utcnow
from tuneloop.store.tables_evaluate import EvalItemScoreRecord
from tuneloop.store.tables_foundation import ArtifactRecord, BaseModelRecord
from tuneloop.store.tables_lifecycle import (
    AliasEventRecord,
    AliasRecord,
    DatasetVersionRecord,
    EvaluationRecord,
    ModelVersionRecord,
    RunMetricRecord,
    RunRecord,
)
from tuneloop.store.tables_monitor import (
    DriftWindowRecord,
    MonitorLockRecord,
    OnlineEvaluationRecord,
    RetrainDecisionRecord,
)
from tuneloop.store.tables_serve import ApiKeyRecord, FeedbackRecord, RequestLogRecord

__all__ = [
    "DB_URL_ENV",
    "AliasEventRecord",
    "AliasRecord",
    "ApiKeyRecord",
    "ArtifactRecord",
    "ArtifactStore",
    "Base",
    "BaseModelRecord",
    "DatasetVersionRecord",
    "DriftWindowRecord",
    "EvalItemScoreRecord",
    "EvaluationRecord",
    "FeedbackRecord",
    "ModelVersionRecord",
    "MonitorLockRecord",
    "OnlineEvaluationRecord",
    "RequestLogRecord",
    "RetrainDecisionRecord",
    "RunMetricRecord",
    "RunRecord",
    "Store",
    "atomic_write_bytes",
    "atomic_write_lines",
    "atomic_write_text",
    "database_url",
    "sha256_bytes",
    "sha256_file",
    "sha256_tree",
    "tables_evaluate",
    "tables_foundation",
    "tables_lifecycle",
    "tables_monitor",
    "tables_serve",
    "utcnow",
]
