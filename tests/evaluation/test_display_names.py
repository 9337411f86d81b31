"""Readable contestant names (evaluation/ratings/names.py): the model, plus the settings that tell
its instances apart, unique on a board, read back from the instance ids the arena stores."""

from __future__ import annotations

import pytest

from arena.engines.base import SamplingOptions
from arena.evaluation.conversation.instances import instance_id
from arena.evaluation.ratings.names import Contestant, display_names, names_for, read_instance_id
from arena.storage.models import SAMPLING_FIELDS


@pytest.mark.parametrize(
    "model",
    [
        "local:smollm2-135m-instruct",
        "ollama:llama3.2:1b-instruct-q4_K_M",
        "openai:vllm/Qwen/Qwen2.5-0.5B",
        "ollama:wéird name~with_üñï",
        "ollama:a__b__1_2_3_4_5_6",  # looks like settings, is a name
    ],
)
def test_an_instance_id_reads_back_as_its_model_and_settings(model: str) -> None:
    options = SamplingOptions(temperature=1.0, top_p=0.85, top_k=7, repeat_penalty=1.3, num_predict=256, seed=42)
    read = read_instance_id(instance_id(model, options))
    assert read is not None and read.model == model
    assert read.settings == {name: str(getattr(options, name)) for name in SAMPLING_FIELDS}


def test_a_model_too_long_to_spell_keeps_its_readable_head() -> None:
    model = "ollama:" + "m" * 400
    read = read_instance_id(instance_id(model, SamplingOptions()))
    assert read is not None and read.model.startswith("ollama:mmm") and read.model.endswith("…")


@pytest.mark.parametrize("key", ["ollama:alpha", "plain", "x__1_2_3", "~zz__1_2_3_4_5_6", "__1_2_3_4_5_6"])
def test_what_is_no_instance_id_is_not_read_as_one(key: str) -> None:
    assert read_instance_id(key) is None


def test_instances_show_only_the_settings_in_which_they_differ() -> None:
    smol = "local:smollm2-135m-instruct"
    ids = [
        instance_id(smol, SamplingOptions(temperature=1.0, top_p=0.9)),
        instance_id(smol, SamplingOptions(temperature=0.2, top_p=0.5)),
        instance_id(smol, SamplingOptions(temperature=0.2, top_p=0.9, num_predict=-1, seed=0)),
        instance_id("ollama:gemma3:270m", SamplingOptions(temperature=1.5)),
    ]
    names = names_for(ids, unit="instance")
    assert [names[key] for key in ids] == [
        "smollm2-135m-instruct · temp 1.0 · top_p 0.9",
        "smollm2-135m-instruct · temp 0.2 · top_p 0.5",
        "smollm2-135m-instruct · temp 0.2 · top_p 0.9",
        "gemma3:270m",  # the only instance of its model: nothing to tell apart
    ]


def test_special_values_read_as_words() -> None:
    smol = "local:smollm2-135m-instruct"
    ids = [
        instance_id(smol, SamplingOptions(num_predict=-1, seed=0)),
        instance_id(smol, SamplingOptions(num_predict=64, seed=3)),
    ]
    assert sorted(names_for(ids, unit="instance").values()) == [
        "smollm2-135m-instruct · max_tokens 64 · seed 3",
        "smollm2-135m-instruct · max_tokens unlimited · seed random",
    ]


def test_the_engine_prefix_stays_where_two_engines_share_a_name() -> None:
    names = names_for(["local:tiny", "ollama:tiny", "ollama:other", "openai:vllm/org/big"], unit="model")
    assert names == {
        "local:tiny": "local:tiny",
        "ollama:tiny": "ollama:tiny",
        "ollama:other": "other",
        "openai:vllm/org/big": "org/big",
    }


def test_names_are_unique_on_a_board_whatever_the_keys() -> None:
    # Keys that are no instance ids stand for themselves, so two can never share a name.
    board = [Contestant(key="a", model="ollama:x"), Contestant(key="b", model="ollama:x")]
    assert display_names(board) == {"a": "a", "b": "b"}
