"""Every built-in metric on hand-made answers."""

from __future__ import annotations

import json

import pytest

from tuneloop.errors import InvalidInput
from tuneloop.evaluate.generation import Generation
from tuneloop.evaluate.items import EvalItem
from tuneloop.evaluate.metrics import (
    METRICS,
    ScoringContext,
    ScoringInput,
    get_metric,
    outputs_of,
    parse_metric_options,
    score_outputs,
)


def score(
    spec: dict | str,
    prediction: str,
    reference: str | None = None,
    *,
    generation=None,
    item=None,
    context: ScoringContext | None = None,
) -> dict:
    options = parse_metric_options(spec)
    definition = get_metric(options.name)
    inp = ScoringInput(prediction, reference, item, generation)
    row = definition.score([inp], options, context or ScoringContext())[0]
    return {k: v.score for k, v in row.items()}


def one(spec: dict | str, prediction: str, reference: str | None = None, **kw) -> float | None:
    name = spec if isinstance(spec, str) else spec["name"]
    return score(spec, prediction, reference, **kw)[name]


def test_exact_match_normalisation() -> None:
    assert one("exact_match", "  Paris ", "paris") == 1.0
    assert one({"name": "exact_match", "lowercase": False}, "Paris", "paris") == 0.0
    assert one({"name": "exact_match", "strip_punctuation": True}, "Paris.", "paris") == 1.0
    assert one({"name": "exact_match", "remove_articles": True}, "the Eiffel tower", "Eiffel Tower") == 1.0
    assert one("exact_match", "```\nParis\n```", "Paris") == 1.0
    assert (
        one(
            {"name": "exact_match", "field": "category"}, '{"category": "Billing"}', '{"category": "billing"}'
        )
        == 1.0
    )
    assert one("exact_match", "Paris", None) is None  # no reference: a failure, not a zero


def test_contains_regex_and_constraints() -> None:
    assert one("contains", "It is Paris, of course", "paris") == 1.0
    assert one({"name": "contains", "text": ["rome", "paris"]}, "paris") == 1.0
    assert one({"name": "contains", "text": ["rome", "paris"], "all": True}, "paris") == 0.0
    assert one({"name": "not_contains", "text": "bark"}, "Dogs BARK loudly") == 0.0
    assert one({"name": "regex", "pattern": r"\d{3}"}, "code 123") == 1.0
    assert one({"name": "regex", "pattern": r"\d{3}", "mode": "fullmatch"}, "code 123") == 0.0
    assert one({"name": "starts_with", "text": "Sure:"}, "sure: apple") == 1.0
    assert one({"name": "ends_with", "text": "done", "strip_punctuation": True}, "All good. Done.") == 1.0
    assert one({"name": "word_count", "max": 2}, "one two three") == 0.0
    assert one({"name": "line_count", "min": 3, "max": 3}, "a\n\nb\nc") == 1.0
    assert one({"name": "letter_case", "case": "upper"}, "HOT!") == 1.0
    assert one({"name": "letter_case", "case": "upper"}, "Hot") == 0.0
    assert one("numeric_match", "7 times 6 is 42.", "42") == 1.0
    assert one("numeric_match", "It is 41", "42") == 0.0
    assert one("numeric_match", "1,000 items", "1000") == 1.0


def test_json_metrics() -> None:
    assert one("json_valid", '{"a": 1}') == 1.0
    assert one("json_valid", 'Sure! {"a": 1}') == 0.0  # strict by default: a client would fail
    assert one({"name": "json_valid", "extract": True}, 'Sure! {"a": 1}') == 1.0
    assert one("json_valid", "[1, 2]") == 0.0
    schema = {
        "type": "object",
        "properties": {"priority": {"enum": ["low", "medium", "high"]}},
        "required": ["priority"],
    }
    assert one({"name": "json_schema", "schema": schema}, '{"priority": "low"}') == 1.0
    assert one({"name": "json_schema", "schema": schema}, '{"priority": "urgent"}') == 0.0
    reference = json.dumps({"category": "billing", "priority": "high", "meta": {"lang": "en"}})
    spec = {"name": "json_field_accuracy", "fields": ["category", "priority", "meta.lang"]}
    got = score(
        spec, json.dumps({"category": "Billing", "priority": "low", "meta": {"lang": "en"}}), reference
    )
    assert got == {
        "category_accuracy": 1.0,
        "priority_accuracy": 0.0,
        "meta_lang_accuracy": 1.0,
        "json_field_accuracy": pytest.approx(2 / 3),
    }
    broken = score(spec, "not json", reference)
    assert broken["json_field_accuracy"] == 0.0 and broken["category_accuracy"] == 0.0
    assert [o.name for o in outputs_of(parse_metric_options(spec))] == [
        "json_field_accuracy",
        "category_accuracy",
        "priority_accuracy",
        "meta_lang_accuracy",
    ]


def test_json_schema_options_are_validated() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        parse_metric_options({"name": "json_schema"})
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        parse_metric_options({"name": "json_schema", "schema": {"type": 12}})


def test_rouge_and_chrf_from_maintained_packages() -> None:
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import CHRF

    expected = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(
        "the cat sat on the mat", "the cat sat"
    )
    assert one("rouge_l", "the cat sat", "the cat sat on the mat") == pytest.approx(
        expected["rougeL"].fmeasure
    )
    assert one("chrf", "the cat sat", "the cat sat on the mat") == pytest.approx(
        CHRF().sentence_score("the cat sat", ["the cat sat on the mat"]).score / 100
    )
    reply = {"name": "rouge_l", "field": "reply"}
    assert one(reply, '{"reply": "we will refund you"}', '{"reply": "we will refund you"}') == pytest.approx(
        1.0
    )
    assert one(reply, "plain text", '{"reply": "we will refund you"}') == 0.0


def test_embedding_similarity_with_bundled_minilm() -> None:
    spec = {"name": "embedding_similarity"}
    close = one(spec, "The parcel will arrive tomorrow.", "Your package arrives tomorrow.")
    far = one(spec, "The parcel will arrive tomorrow.", "Photosynthesis converts light into energy.")
    assert close > far and close > 0.5
    assert one({"name": "embedding_similarity", "threshold": 0.5}, "hello there", "hello there") == 1.0


def test_consistency_exact_and_semantic() -> None:
    def gen(*samples: str) -> Generation:
        return Generation(samples[0], 1, 1, 0.1, "stop", samples)

    assert one("consistency", "a", generation=gen("a", "a", "a")) == 1.0
    assert one("consistency", "a", generation=gen("a", "a", "b")) == pytest.approx(1 / 3)
    assert one("consistency", "a", generation=gen("a")) is None  # needs several samples
    semantic = {"name": "consistency", "agreement": "semantic", "threshold": 0.8}
    assert one(semantic, "x", generation=gen("The order ships today.", "Your order ships today.")) == 1.0
    assert get_metric("consistency").sampling(parse_metric_options("consistency")).num_samples == 5


def test_refusal_length_latency() -> None:
    assert one("refusal_rate", "I'm sorry, but I can't help with that request.") == 1.0
    assert one("refusal_rate", "Your refund was issued today.") == 0.0
    assert get_metric("refusal_rate").higher_is_better is False
    generation = Generation("a b c", 5, 7, 0.25, "stop", ("a b c",))
    assert one("length", "a b c", generation=generation) == 7.0
    assert one({"name": "length", "unit": "words"}, "a b c") == 3.0
    assert one("latency", "x", generation=generation) == 0.25
    assert one("latency", "x") is None


def test_item_checks_use_each_items_own_checks() -> None:
    checks = tuple(
        parse_metric_options(c)
        for c in [{"name": "letter_case", "case": "upper"}, {"name": "word_count", "max": 1}]
    )
    item = EvalItem("i1", [{"role": "user", "content": "say YES"}], "YES", {}, None, checks)
    assert one("item_checks", "YES", item=item) == 1.0
    assert one("item_checks", "YES SIR", item=item) == 0.0
    assert one({"name": "item_checks", "require": "any"}, "YES SIR", item=item) == 1.0


def test_categories_restrict_a_metric_and_renaming() -> None:
    items = [
        EvalItem(str(i), [{"role": "user", "content": "q"}], "a", {"category": c})
        for i, c in enumerate("xyx")
    ]
    inputs = [ScoringInput("a", "a", item) for item in items]
    specs = [parse_metric_options({"name": "exact_match", "as": "x_match", "categories": ["x"]})]
    table = score_outputs(inputs, specs, ScoringContext())
    assert table.scores("x_match") == [1.0, None, 1.0]
    assert table.mean("x_match") == 1.0 and table.applicable("x_match") == 2


def test_unknown_metric_and_options_are_clear() -> None:
    with pytest.raises(InvalidInput, match="did you mean 'rouge_l'"):
        parse_metric_options("rouge_k")
    with pytest.raises(ValueError, match="pattern"):
        parse_metric_options({"name": "regex", "pattern": "("})
    assert {"exact_match", "judge_rubric", "judge_pairwise", "consistency", "json_schema"} <= set(METRICS)
