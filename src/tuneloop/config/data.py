"""The ``data`` section: where the datasets are and the quality gates they must pass.

Every threshold below is used by ``tuneloop data check``; ``docs/data.md`` explains why each default
was chosen. A check marks a finding as an *error* (the gate fails, exit code 1) or a *warning*.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tuneloop.config.strict_model import StrictModel


class VolumeGate(StrictModel):
    """How many examples a goal needs: below ``fail_below`` the gate fails, below ``warn_below`` it warns."""

    fail_below: int = Field(ge=0)
    """Fewer examples than this fail the gate."""
    warn_below: int = Field(ge=0)
    """Fewer examples than this (but at least ``fail_below``) give a warning."""


class VolumeSettings(StrictModel):
    """Volume gates per goal, and per category when records carry a category tag."""

    behaviour: VolumeGate = Field(default_factory=lambda: VolumeGate(fail_below=50, warn_below=100))
    """Teaching a behaviour or format: 50-100+ examples (OpenAI and most practitioners' guidance)."""
    domain: VolumeGate = Field(default_factory=lambda: VolumeGate(fail_below=1000, warn_below=2000))
    """Domain adaptation on raw text needs far more: 1000+ documents or chunks."""
    per_category: VolumeGate = Field(default_factory=lambda: VolumeGate(fail_below=5, warn_below=20))
    """Minimum examples per category (the first tag field present); only when categories exist."""


class DedupSettings(StrictModel):
    """Exact and near-duplicate detection (MinHash LSH, compatible with datasketch's MinHashLSH)."""

    num_perm: int = Field(default=128, ge=16, le=1024)
    """MinHash permutations: 128 estimates Jaccard within about +-0.035 at 0.8 (one standard deviation)."""
    threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    """Jaccard similarity of word shingles at or above which two examples are near duplicates."""
    shingle_words: int = Field(default=3, ge=1, le=8)
    """Shingles are word n-grams of this size after normalisation (NFKC, case-folded, punctuation removed).
    Texts with fewer words than this become one shingle (so they only match exactly)."""
    seed: int = 1
    """Seed of the MinHash permutations (datasketch's default is 1; the same seed gives the same signatures)."""
    max_share: float = Field(default=0.1, ge=0.0, le=1.0)
    """Duplicates removable by ``data dedup`` above this share of the dataset fail the gate; below, warn."""


class ConflictSettings(StrictModel):
    """Near-identical inputs whose outputs disagree."""

    max_label_values: int = Field(default=30, ge=2)
    """JSON output fields with at most this many distinct short values are labels (compared exactly).
    Whether whole answers are labels is decided by ``data.labels``."""
    min_output_distance: float = Field(default=0.35, ge=0.0, le=2.0)
    """Free-text outputs whose cosine distance exceeds this disagree (embeddings, else TF-IDF)."""
    max_share: float = Field(default=0.05, ge=0.0, le=1.0)
    """Conflicting examples above this share fail the gate; below, they warn."""


class DiversitySettings(StrictModel):
    """Lexical and semantic diversity; all of these only warn."""

    min_distinct_2: float = Field(default=0.25, ge=0.0, le=1.0)
    """Distinct bigrams / bigrams in a 20,000-word sample of the responses; lower means repetitive text."""
    max_compression_ratio: float = Field(default=6.0, gt=1.0)
    """gzip ratio (raw / compressed) of the same sample; natural text is about 2.5-3.5, templated text 6+."""
    max_largest_cluster_share: float = Field(default=0.6, gt=0.0, le=1.0)
    """Share of examples in the largest embedding cluster above which one topic dominates."""
    min_cluster_entropy: float = Field(default=0.5, ge=0.0, le=1.0)
    """Normalised entropy of the cluster sizes (1 = even) below which topics are unbalanced."""
    max_mean_similarity: float = Field(default=0.75, ge=0.0, le=1.0)
    """Mean pairwise cosine similarity of prompt embeddings above which examples say nearly the same."""
    max_words_per_record: int = Field(default=100, ge=10)
    """Each record adds at most this many words to the distinct-n / compression sample, so one long
    record (a runaway answer) cannot decide the corpus figure; runaway answers are reported on their own."""
    repetition_ngram: int = Field(default=4, ge=2, le=10)
    """Word n-gram size of the per-answer repetition check (``repetitive_answer``)."""
    max_repeated_share: float = Field(default=0.5, gt=0.0, le=1.0)
    """An answer whose repeated n-grams (every occurrence after the first) cover more than this share of
    its words is degenerate ("Eat a banana!" 2,000 times: 1.0; an answer pasted twice: just under 0.5)."""
    repetition_min_words: int = Field(default=30, ge=4)
    """Answers shorter than this are not checked for repetition (a short list legitimately repeats)."""


class BalanceSettings(StrictModel):
    """Label balance and refusal / boilerplate answers."""

    max_imbalance_ratio: float = Field(default=10.0, ge=1.0)
    """Largest category / smallest category above which the data is imbalanced (warning)."""
    max_refusal_share: float = Field(default=0.2, ge=0.0, le=1.0)
    """Share of answers that are refusals ("I cannot help with that") above which the model learns to refuse."""
    max_boilerplate_share: float = Field(default=0.1, ge=0.0, le=1.0)
    """Share of free-text answers identical to the most common answer above which it is boilerplate."""


class LabelSettings(StrictModel):
    """Classification data: answers from a small closed set of short labels (intents, triage, tags).

    Answers are labels when at least ``min_short_share`` of them have at most ``max_words`` words and
    ``max_chars`` characters, there are at most ``max(max_labels, max_label_share x answers)`` distinct
    answers, and each distinct answer occurs on average ``min_mean_examples`` times or more. Such data
    gets label checks (balance, rare labels, holdout labels unseen in training, conflicting labels)
    instead of the answer diversity and compression checks, which every label set fails."""

    task: Literal["auto", "classification", "generation"] = "auto"
    """``auto`` applies the rule above; ``classification`` or ``generation`` forces the mode."""
    max_labels: int = Field(default=50, ge=2)
    """Distinct answers allowed whatever the dataset size."""
    max_label_share: float = Field(default=0.2, ge=0.0, le=1.0)
    """Distinct answers allowed as a share of the answers (larger datasets may have more labels)."""
    min_mean_examples: float = Field(default=2.0, ge=1.0)
    """Answers per distinct answer, on average, at least: labels repeat, short free answers do not."""
    max_words: int = Field(default=8, ge=1)
    """A label has at most this many words (intent names, "billing", "high priority")."""
    max_chars: int = Field(default=64, ge=1)
    """A label has at most this many characters."""
    min_short_share: float = Field(default=0.95, ge=0.0, le=1.0)
    """Share of answers that must be label-short; a few stray long answers do not change the mode
    (they show up as labels with too few examples)."""
    min_examples: int = Field(default=5, ge=1)
    """Labels with fewer training examples than this warn (``rare_labels``)."""
    max_imbalance_ratio: float = Field(default=10.0, ge=1.0)
    """Commonest label count / rarest label count above which the labels are imbalanced (warning)."""


class ProductionMatchSettings(StrictModel):
    """How well the training inputs cover a sample of production inputs (``--production-sample``)."""

    min_similarity: float = Field(default=0.5, ge=0.0, le=1.0)
    """A production input is covered when some training prompt has at least this cosine similarity."""
    warn_uncovered_share: float = Field(default=0.2, ge=0.0, le=1.0)
    """Uncovered production inputs above this share warn."""
    fail_uncovered_share: float = Field(default=0.5, ge=0.0, le=1.0)
    """Uncovered production inputs above this share fail the gate."""


class SensitiveSettings(StrictModel):
    """PII and secrets scanning; kinds listed in ``block`` fail the gate, the others warn."""

    enabled: bool = True
    """Scan every string field of every record."""
    block: list[str] = Field(
        default_factory=lambda: ["card_number", "iban", "national_id", "private_key", "api_key", "token"]
    )
    """Finding kinds that fail the gate (see ``docs/data.md`` for the list of kinds)."""
    person_names: bool = True
    """Detect person names with offline heuristics (honorifics, "my name is", known first names)."""


class ContaminationSettings(StrictModel):
    """Train/holdout contamination (``--holdout``)."""

    ngram: int = Field(default=8, ge=3, le=20)
    """Word n-gram size for overlap (GPT-3 used 13 for long documents; 8 suits short SFT turns)."""
    max_ngram_overlap: float = Field(default=0.8, ge=0.0, le=1.0)
    """A holdout prompt with more than this share of its n-grams in training prompts is contaminated.
    Prompts, not answers: answers drawn from a small set of templates (classification, strict formats)
    legitimately recur."""
    max_share: float = Field(default=0.0, ge=0.0, le=1.0)
    """Contaminated holdout items above this share fail the gate (default: any)."""


class EmbeddingSettings(StrictModel):
    """The offline sentence embedder (all-MiniLM-L6-v2) used for diversity, conflicts and production match."""

    enabled: bool = True
    """Off: clusters are skipped; conflicts and production match fall back to TF-IDF vectors."""
    max_records: int = Field(default=5000, ge=100)
    """Embed at most this many records (a deterministic sample) for clusters and the map."""
    batch_size: int = Field(default=64, ge=1)
    """Texts per embedding batch."""


class DataSection(StrictModel):
    """Datasets and data-quality settings."""

    train: list[str] = Field(default_factory=list)
    """Training files or folders (JSONL, JSON, CSV, Parquet; a folder of .txt/.md for domain text)."""
    holdout: list[str] = Field(default_factory=list)
    """Holdout files used for evaluation; checked for contamination against ``train``."""
    production_sample: str | None = None
    """A file of production inputs (any supported format, prompts only allowed) for the production-match check."""
    format: str | None = None
    """Force one input format instead of auto-detection (see ``tuneloop data formats``)."""
    goal: Literal["behaviour", "domain"] = "behaviour"
    """``behaviour`` (teach a behaviour: 50-100+ examples) or ``domain`` (domain adaptation: 1000+)."""
    tag_fields: list[str] = Field(default_factory=lambda: ["category", "intent"])
    """Record fields copied into tags; the first present one is used for balance and stratification."""
    overlength: Literal["drop", "fail"] = "drop"
    """Examples longer than ``model.max_length``: ``drop`` lists and drops them, ``fail`` fails the gate.
    Never silent truncation."""
    chunk_tokens: int = Field(default=512, ge=16)
    """Raw text documents (.txt/.md) are cut into chunks of about this many tokens, at paragraph breaks."""
    max_problems: int = Field(default=200, ge=1)
    """Problems listed before the rest are only counted."""
    max_line_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """A JSONL line or JSON element longer than this is reported (``line_too_long``) and not parsed."""
    volume: VolumeSettings = Field(default_factory=VolumeSettings)
    """Volume gates."""
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    """Duplicate detection."""
    conflicts: ConflictSettings = Field(default_factory=ConflictSettings)
    """Conflicting labels or answers."""
    diversity: DiversitySettings = Field(default_factory=DiversitySettings)
    """Diversity thresholds."""
    balance: BalanceSettings = Field(default_factory=BalanceSettings)
    """Balance thresholds."""
    labels: LabelSettings = Field(default_factory=LabelSettings)
    """Classification data (answers that are labels) and its checks."""
    production_match: ProductionMatchSettings = Field(default_factory=ProductionMatchSettings)
    """Production-match thresholds."""
    sensitive: SensitiveSettings = Field(default_factory=SensitiveSettings)
    """PII and secrets."""
    contamination: ContaminationSettings = Field(default_factory=ContaminationSettings)
    """Holdout contamination."""
    embeddings: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    """Sentence embeddings."""
