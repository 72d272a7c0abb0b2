"""The AI policy file: shipped defaults, clear errors for bad and hostile input, switches per model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai.policy import AiPolicyError, load_ai_policy, parse_ai_policy
from ai.settings import AiSettings


def test_shipped_policy_switches_every_model_on_with_sane_thresholds() -> None:
    policy = load_ai_policy(None)
    assert policy.enabled_models() == ["duplicates", "spikes", "delay", "exception_cause", "allocation"]
    assert policy.models.duplicates.review_threshold < policy.models.duplicates.flag_threshold
    assert policy.models.allocation.min_confidence > 0 and policy.models.allocation.max_order_value > 0
    assert not policy.training.auto_promote.enabled, (
        "promotion needs an admin unless someone turns the rule on"
    )


def test_a_model_switched_off_is_not_enabled() -> None:
    policy = parse_ai_policy("models:\n  delay:\n    enabled: false\n  spikes: {enabled: false}\n")
    assert policy.enabled_models() == ["duplicates", "exception_cause", "allocation"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "models:\n  spikes:\n    review_threshold: 0.9\n    flag_threshold: 0.5\n",
            "line 2: models.spikes: review_threshold must not be above flag_threshold",
        ),
        (
            "models:\n  duplicates:\n    flag_threshold: 1.5\n",
            "line 3: models.duplicates.flag_threshold: Input should be less than or equal to 1",
        ),
        ("models:\n  allocation:\n    max_order_value: -1\n", "line 3: models.allocation.max_order_value"),
        ("models:\n  allocation:\n    min_confidence: high\n", "line 3: models.allocation.min_confidence"),
        ("models:\n  delay:\n    thresold: 0.5\n", "line 3: models.delay.thresold: unknown field"),
        ("models:\n  chatbot: {enabled: true}\n", "line 2: models.chatbot: unknown field"),
        (
            "training:\n  auto_promote:\n    min_metric: {delay: x}\n",
            "line 3: training.auto_promote.min_metric.delay",
        ),
        ("models: [1, 2\n", "not valid YAML"),
        ("- just\n- a list\n", "an AI policy must be a mapping"),
        ("\ufeffversion: 2\n", "version: Input should be 1"),
    ],
)
def test_bad_and_hostile_policies_fail_naming_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(AiPolicyError) as error:
        parse_ai_policy(text, "ai.yaml")
    assert expected in str(error.value)
    assert str(error.value).startswith("ai.yaml")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(AiPolicyError, match="does not exist"):
        load_ai_policy(tmp_path / "nope.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(AiPolicyError, match="is not UTF-8 text"):
        load_ai_policy(binary)


def test_settings_reject_a_malformed_summary_hook() -> None:
    assert AiSettings().summary_hook is None, "the summary hook is off by default"
    with pytest.raises(ValueError, match="summary_hook must be"):
        AiSettings(summary_hook="os.system")
    with pytest.raises(ValueError, match="extra"):
        AiSettings.model_validate({"enabled": True, "bogus": 1})
