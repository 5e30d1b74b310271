"""Model.logits and logits_batch: equal to the golden fixtures (safetensors and .bin, every mode)
and to `supra logits`; NumPy, list and torch ids; states continue."""
import numpy as np
import pytest

import supra
from conftest import GOLDEN, read_safetensors

MODES = ["parallel", "recurrent", "hybrid"]
F32_REL = 1e-5  # relative to max |golden|, as tests/model/test_golden.cpp


@pytest.fixture(scope="module")
def golden():
    return read_safetensors(GOLDEN / "supra_gqa" / "golden.safetensors")


@pytest.mark.parametrize("folder", ["supra_gqa", "supra_gqa-bin"])
@pytest.mark.parametrize("mode", MODES)
def test_logits_equal_the_golden_fixture(golden, folder, mode):
    m = supra.Model.from_pretrained(GOLDEN / folder, threads=2)
    ids = golden["input_ids_short"]
    expected = golden["logits_parallel_short"]
    for b in range(ids.shape[0]):
        got = m.logits(ids[b], mode=mode)
        assert got.dtype == np.float32 and got.shape == expected[b].shape
        tolerance = F32_REL * np.abs(expected[b]).max()
        assert np.abs(got - expected[b]).max() <= tolerance


@pytest.mark.parametrize("mode", MODES)
def test_logits_equal_the_cli(model, cli, tmp_path, mode):
    ids = model.tokenizer.encode("Once upon a time there was a little girl")
    out = tmp_path / "logits.npy"
    cli("logits", "--ids", ",".join(map(str, ids)), "--mode", mode, "-o", out, "-t", 2)
    np.testing.assert_array_equal(model.logits(ids, mode=mode), np.load(out))


def test_logits_array_is_not_a_copy(model):
    got = model.logits([1, 2, 3])
    assert got.shape == (3, model.vocab_size)
    assert not got.flags.owndata  # the array views the engine's vector, owned by a capsule
    assert got.flags.c_contiguous


def test_ids_from_lists_numpy_and_hf_shapes(model):
    ids = model.tokenizer.encode("Once upon a time")
    expected = model.logits(ids)
    for form in (tuple(ids), np.array(ids, dtype=np.int32), np.array(ids, dtype=np.uint16), np.array([ids])):
        np.testing.assert_array_equal(model.logits(form), expected)


def test_ids_from_a_torch_tensor(model):
    torch = pytest.importorskip("torch", reason="python3-torch is not installed")
    ids = model.tokenizer.encode("Once upon a time")
    np.testing.assert_array_equal(model.logits(torch.tensor([ids])), model.logits(ids))


def test_a_state_continues_where_it_stopped(model):
    ids = model.tokenizer.encode("Once upon a time there was a little girl named Lily")
    whole = model.logits(ids, mode="parallel")
    state = model.new_state()
    head = model.logits(ids[:5], state=state, mode="parallel")
    tail = model.logits(ids[5:], state=state, mode="recurrent")
    assert state.position == len(ids) and state.tokens == ids
    np.testing.assert_allclose(np.concatenate([head, tail]), whole, rtol=0, atol=1e-5 * np.abs(whole).max())


def test_logits_batch_equals_one_sequence_at_a_time(model):
    a = model.tokenizer.encode("Once upon a time")
    b = model.tokenizer.encode("The cat sat on the mat and")
    sa, sb = model.new_state(), model.new_state()
    batched = model.logits_batch([a, b], states=[sa, sb])
    for ids, got, state in ((a, batched[0], sa), (b, batched[1], sb)):
        alone = model.logits(ids, mode="parallel")
        np.testing.assert_allclose(got, alone, rtol=0, atol=1e-5 * np.abs(alone).max())
        assert state.position == len(ids)
    # one more token each: a recurrent step of both, continuing the states
    step = model.logits_batch([[5], [7]], states=[sa, sb])
    np.testing.assert_allclose(step[0], model.logits(a + [5], mode="parallel")[-1:], rtol=0, atol=1e-4)
    assert [s.position for s in (sa, sb)] == [len(a) + 1, len(b) + 1]
    assert [x.shape for x in model.logits_batch([a, b])] == [(len(a), model.vocab_size), (len(b), model.vocab_size)]
