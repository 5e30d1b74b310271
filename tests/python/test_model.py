"""Loading: config, tokenizer, dtype, threads, and the exceptions of bad paths and arguments."""
import json

import numpy as np
import pytest

import supra
from conftest import GOLDEN, SHIPPED


def test_config_is_config_json(model):
    assert model.config == json.loads((SHIPPED / "config.json").read_text())
    assert model.vocab_size == model.tokenizer.vocab_size == len(model.tokenizer)
    assert model.threads == 2 and "stories260K-supra" in repr(model)


def test_tokenizer_round_trip_and_special_ids(model, cli):
    text = "Once upon a time, Lily saw a cat."
    ids = model.tokenizer.encode(text)
    assert ids[0] == model.tokenizer.bos_token_id == 1
    assert model.tokenizer.eos_token_id == 2
    assert model.tokenizer.encode(text, add_special_tokens=False) == ids[1:]
    assert model.tokenizer.decode(ids) == text
    assert model.tokenizer.decode(np.array(ids)) == text
    assert cli("tokenize", "-p", text).stdout.split() == [str(i) for i in ids]


def test_dtype_checks_the_stored_weights(model):
    stored = "float32" if "F32" in model.weights else "bfloat16"
    supra.Model.from_pretrained(SHIPPED, dtype=stored)
    supra.Model.from_pretrained(SHIPPED, dtype="auto")
    with pytest.raises(ValueError, match="stored as"):
        supra.Model.from_pretrained(SHIPPED, dtype="q4_0")
    with pytest.raises(ValueError, match="dtype"):
        supra.Model.from_pretrained(SHIPPED, dtype="int3")


def test_bad_paths_raise_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        supra.Model.from_pretrained(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="config.json"):
        supra.Model.from_pretrained(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        supra.Model.from_pretrained(tmp_path / "file")


def test_corrupt_files_raise_value_errors_with_the_message(tmp_path):
    for f in GOLDEN.joinpath("supra_gqa").iterdir():
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").write_text("{ not json")
    with pytest.raises(ValueError, match="config.json"):
        supra.Model.from_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").symlink_to(GOLDEN / "supra_gqa" / "config.json")
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ValueError):
        supra.Model.from_pretrained(tmp_path)


def test_bad_arguments(model):
    with pytest.raises(ValueError, match="threads"):
        supra.Model.from_pretrained(SHIPPED, threads=0)
    with pytest.raises(TypeError, match="threads"):
        supra.Model.from_pretrained(SHIPPED, threads="all")
    with pytest.raises(ValueError, match="out of range"):
        model.logits([1, model.vocab_size])
    with pytest.raises(ValueError, match="out of range"):
        model.logits([1, -3])
    with pytest.raises(ValueError, match="out of range"):
        model.logits(np.array([1, 2**40]))
    with pytest.raises(ValueError, match="at least one token"):
        model.logits([])
    with pytest.raises(ValueError, match="shape"):
        model.logits(np.ones((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="not text"):
        model.logits("Once upon a time")
    with pytest.raises(TypeError, match="integers"):
        model.logits([1.5, 2.0])
    with pytest.raises(ValueError, match="mode"):
        model.logits([1, 2], mode="fast")
    with pytest.raises(ValueError, match="same state"):
        s = model.new_state()
        model.logits_batch([[1], [2]], states=[s, s])
    with pytest.raises(ValueError, match="states"):
        model.logits_batch([[1], [2]], states=[model.new_state()])
