"""supra.State: forks, the state file bytes (also `supra generate --prompt-cache`'s files) and
pickling all continue exactly as the original; a state of another model is a ValueError."""
import copy
import pickle

import numpy as np
import pytest

import supra
from conftest import GOLDEN, SHIPPED

CONTEXT = "Once upon a time there was a little girl"


def read(model, text):
    state = model.new_state()
    model.logits(model.tokenizer.encode(text), state=state)
    return state


def continuation(model, state, words=" who loved cats"):
    return model.logits(model.tokenizer.encode(words, add_special_tokens=False), state=state)


def test_a_fork_continues_like_the_original(model):
    state = read(model, CONTEXT)
    assert state.position == len(model.tokenizer.encode(CONTEXT))
    fork, shallow, deep = state.copy(), copy.copy(state), copy.deepcopy(state)
    expected = continuation(model, state)
    for s in (fork, shallow, deep):
        np.testing.assert_array_equal(continuation(model, s), expected)
    # the forks were independent: each advanced once
    assert fork.position == state.position


def test_bytes_and_pickle_round_trips_continue_identically(model):
    state = read(model, CONTEXT)
    data = state.to_bytes()
    restored = supra.State.from_bytes(model, data)
    unpickled = pickle.loads(pickle.dumps(state))
    assert restored.tokens == state.tokens == unpickled.tokens
    assert restored.nbytes == state.nbytes > 0
    expected = continuation(model, state.copy())
    np.testing.assert_array_equal(continuation(model, restored), expected)
    np.testing.assert_array_equal(continuation(model, unpickled), expected)
    assert unpickled.model is state.model or unpickled.model.path == state.model.path


def test_a_supra_state_has_a_fixed_size(model):
    short, long = read(model, "Once"), read(model, CONTEXT * 4)
    assert short.nbytes == long.nbytes and long.position > short.position


def test_the_cli_prompt_cache_file_is_a_state(model, cli, tmp_path):
    cache = tmp_path / "prompt.state"
    cli("generate", "-p", CONTEXT, "-n", 1, "--prompt-cache", cache)
    state = supra.State.from_bytes(model, cache.read_bytes())
    ids = model.tokenizer.encode(CONTEXT)
    assert state.tokens == ids[:-1]  # the cache holds the state before the prompt's last token
    np.testing.assert_allclose(model.logits(ids[-1:], state=state), model.logits(ids)[-1:], rtol=0, atol=1e-5)
    # and the other way round: a file written here is read by the CLI
    cache.write_bytes(read(model, CONTEXT[:20]).to_bytes())
    r = cli("generate", "-p", CONTEXT, "-n", 1, "--prompt-cache", cache)
    assert "prompt tokens reused" in r.stderr


def test_a_state_of_another_model_is_a_value_error(model):
    other = supra.Model.from_pretrained(GOLDEN / "supra_gqa", threads=2)
    foreign = other.new_state()
    other.logits([1, 2, 3], state=foreign)
    with pytest.raises(ValueError, match="another model"):
        model.logits([1, 2], state=foreign)
    with pytest.raises(ValueError, match="another model"):
        model.generate("Once", max_new_tokens=2, state=foreign)
    with pytest.raises(ValueError, match="another model"):
        supra.State.from_bytes(model, foreign.to_bytes())
    # the same folder loaded twice shares states, as state files do
    again = supra.Model.from_pretrained(SHIPPED, threads=2)
    model.logits([1, 2], state=again.new_state())


def test_corrupt_state_bytes_are_a_value_error(model):
    data = bytearray(read(model, CONTEXT).to_bytes())
    for broken in (b"", b"not a state", bytes(data[: len(data) // 2]), bytes(data[:-1] + bytes([data[-1] ^ 1]))):
        with pytest.raises(ValueError):
            supra.State.from_bytes(model, broken)
