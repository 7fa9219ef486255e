"""Training: SFT, continued pre-training and preference tuning (DPO, ORPO, KTO) with LoRA, QLoRA,
DoRA or full weights; resumable, recorded in the store, and distributed through accelerate.

The stage's public API::

    result = train(project, overrides={"max_steps": 50})       # -> TrainResult(.model_version "name:N")
    result = train(project, progress=RecordingProgress())     # pre-flight, bar and evaluation reported
    result = train(project, data=[Path("shuffled.jsonl")], register_as="broken", tag="shuffled")
    result = train(project, parent="support:1", method="dpo")  # continue from a registered version
    result = train(project, resume=True)                       # the newest crashed/interrupted run
    export_model(project, "support:2", Path("out"), merged=True)
    runs = list_runs(project); info = get_run(project, result.run_name)
    get_method("dpo").needs_reference; available_methods()    # the methods (one module each, methods/)

CLI: ``tuneloop train``, ``tuneloop runs list|show|compare``, ``tuneloop export`` (docs/training.md).
Heavy libraries (torch, transformers, peft, accelerate) load inside the functions.
"""

from tuneloop.findings import Finding
from tuneloop.train.export import ExportResult, export_model
from tuneloop.train.inputs import TrainRequest
from tuneloop.train.methods import TrainingMethod, available_methods, get_method
from tuneloop.train.pipeline import TrainResult, prepare, train
from tuneloop.train.preflight import PreflightReport
from tuneloop.train.registration import post_train_evaluation
from tuneloop.train.run_records import RunInfo, compare_runs, get_run, list_runs, metric_series
from tuneloop.train.settings import TrainSettings, resolve_settings
from tuneloop.train.tokenize import IGNORE, TokenizedSequence, TrainingItem, build_items

__all__ = [
    "IGNORE",
    "ExportResult",
    "Finding",
    "PreflightReport",
    "RunInfo",
    "TokenizedSequence",
    "TrainRequest",
    "TrainResult",
    "TrainSettings",
    "TrainingItem",
    "TrainingMethod",
    "available_methods",
    "build_items",
    "compare_runs",
    "export_model",
    "get_method",
    "get_run",
    "list_runs",
    "metric_series",
    "post_train_evaluation",
    "prepare",
    "resolve_settings",
    "train",
]
