"""Model.generate and Model.stream: equal to `supra generate` for the same seed and flags, HF
semantics, stop strings, a State carried through, Ctrl-C."""
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import pytest

import supra
from conftest import ROOT, SHIPPED

PROMPT = "Once upon a time"


def cli_text(cli, *flags):
    """The continuation `supra generate` prints (stdout is the prompt, the continuation, a newline)."""
    out = cli("generate", "-p", PROMPT, "-t", 2, *flags).stdout
    assert out.startswith(PROMPT) and out.endswith("\n")
    return out[len(PROMPT) : -1]


@pytest.mark.parametrize("mode", ["hybrid", "recurrent", "parallel"])
def test_greedy_equals_the_cli(model, cli, mode):
    out = model.generate(PROMPT, max_new_tokens=40, mode=mode)
    assert out.text == cli_text(cli, "-n", 40, "--mode", mode)
    assert len(out.ids) == 40 or out.finish_reason == "eos"
    assert out.prompt_ids == model.tokenizer.encode(PROMPT)


@pytest.mark.parametrize("seed", [1, 42, 123456789])
def test_a_seeded_sample_equals_the_cli(model, cli, seed):
    out = model.generate(PROMPT, max_new_tokens=60, do_sample=True, temperature=0.9, top_k=20, top_p=0.95,
                         repetition_penalty=1.1, seed=seed)
    assert out.seed == seed
    assert out.text == cli_text(cli, "-n", 60, "--temperature", 0.9, "--top-k", 20, "--top-p", 0.95,
                                "--repetition-penalty", 1.1, "--seed", seed)


def test_stop_strings_end_the_text_as_the_cli_does(model, cli):
    full = model.generate(PROMPT, max_new_tokens=60).text
    stop = full.split()[4]  # a word the greedy continuation produces
    out = model.generate(PROMPT, max_new_tokens=60, stop=[stop, "never in the text"])
    assert out.finish_reason == "stop" and stop not in out.text
    assert full.startswith(out.text)
    assert out.text == cli_text(cli, "-n", 60, "--stop", stop, "--stop", "never in the text")


def test_the_stream_yields_the_text_of_generate(model):
    kwargs = dict(max_new_tokens=50, do_sample=True, temperature=0.8, seed=7)
    stream = model.stream(PROMPT, **kwargs)
    assert stream.output is None
    chunks = list(stream)
    out = model.generate(PROMPT, **kwargs)
    assert "".join(chunks) == out.text and len(chunks) > 1
    assert stream.output.ids == out.ids and stream.output.finish_reason == out.finish_reason


def test_hf_semantics_do_sample_decides(model):
    greedy = model.generate(PROMPT, max_new_tokens=20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ignored = model.generate(PROMPT, max_new_tokens=20, temperature=0.7)  # no do_sample: still greedy
    assert ignored.ids == greedy.ids
    assert any("do_sample" in str(w.message) for w in caught)
    a = model.generate(PROMPT, max_new_tokens=20, do_sample=True, seed=3)
    b = model.generate(PROMPT, max_new_tokens=20, do_sample=True, seed=3)
    assert a.ids == b.ids
    assert model.generate(PROMPT, max_new_tokens=0).ids == []
    assert model.generate(PROMPT, max_new_tokens=5).finish_reason in ("length", "eos")


def test_ids_prompts_and_an_empty_prompt(model, cli):
    ids = model.tokenizer.encode(PROMPT)
    assert model.generate(ids, max_new_tokens=10).ids == model.generate(PROMPT, max_new_tokens=10).ids
    out = model.generate("", max_new_tokens=10)  # BOS alone, as `supra generate -p ""`
    assert out.prompt_ids == [model.tokenizer.bos_token_id]
    assert out.text == cli("generate", "-p", "", "-n", 10, "-t", 2).stdout[:-1]


def test_generation_continues_a_state(model):
    first = model.tokenizer.encode(PROMPT)
    state = model.new_state()
    a = model.generate(first, max_new_tokens=8, state=state)
    assert state.tokens == first + a.ids and state.position == len(first) + len(a.ids)
    more = model.tokenizer.encode(" The", add_special_tokens=False)
    b = model.generate(more, max_new_tokens=8, state=state)
    whole = model.generate(first + a.ids + more, max_new_tokens=8)
    assert b.ids == whole.ids


def test_bad_generation_arguments(model):
    with pytest.raises(ValueError, match="top_p"):
        model.generate(PROMPT, do_sample=True, top_p=1.5)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(PROMPT, do_sample=True, temperature=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(PROMPT, max_new_tokens=-1)
    with pytest.raises(ValueError, match="mode"):
        model.generate(PROMPT, mode="sideways")
    with pytest.raises(ValueError, match="stop"):
        model.generate(PROMPT, stop="")
    with pytest.raises(ValueError, match="seed"):
        model.generate(PROMPT, seed=-5)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.generate([1, 10**6])
    with pytest.raises(TypeError, match="max_new_tokens"):
        model.generate(PROMPT, max_new_tokens="ten")
    with pytest.raises(TypeError, match="stop"):
        model.generate(PROMPT, stop=[1, 2])
    with pytest.raises(TypeError, match="state"):
        model.stream(PROMPT, state=5)


def endless_model(tmp_path):
    """The shipped model with an end-of-sequence id it never produces: generation only stops when told."""
    folder = tmp_path / "endless"
    folder.mkdir()
    for f in SHIPPED.iterdir():
        if f.name != "generation_config.json":
            (folder / f.name).symlink_to(f)
    (folder / "generation_config.json").write_text('{"bos_token_id": 1, "eos_token_id": 0}')
    return folder


def test_ctrl_c_stops_a_long_generation(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, threading, supra
        model = supra.Model.from_pretrained({str(endless_model(tmp_path))!r}, threads=1)
        state = model.new_state()
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            model.generate("Once", max_new_tokens=10**9, do_sample=True, seed=1, state=state)
            print("finished")
        except KeyboardInterrupt:
            print("interrupted", state.position)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["interrupted", "0"]  # the caller's state is left as it was
