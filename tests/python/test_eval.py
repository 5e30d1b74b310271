"""loglikelihood equal to `supra eval --log-samples`, and supra.evaluate equal to the CLI's
results JSON, on a small ARC-Easy file written here (llm-foundry's layout); and equal to
lm-eval's own numbers on the shared evalref documents when ../shared is there."""
import json

import pytest

import supra
from conftest import ROOT

DOCS = [
    ("Which animal says meow?", ["a cat", "a dog", "a cow", "a fish"], 0),
    ("What do you use to write?", ["a spoon", "a pencil", "a shoe"], 1),
    ("Where does the sun rise?", ["in the west", "in the east", "at night", "under the sea"], 1),
    ("Which one is a color?", ["blue", "seven", "quickly", "chair"], 0),
]


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data" / "llm-foundry"
    folder.mkdir(parents=True)
    with open(folder / "arc_easy.jsonl", "w") as f:
        for question, choices, gold in DOCS:
            f.write(json.dumps({"query": f"Question: {question}\n", "choices": choices, "gold": gold}) + "\n")
    return tmp_path / "data"


@pytest.mark.parametrize("profile", ["v0.4.2", "v0.4.12"])
def test_loglikelihood_equals_the_cli_log_samples(model, cli, data_dir, tmp_path, profile):
    samples = tmp_path / "samples.jsonl"
    cli("eval", "--tasks", "arc_easy", "--data-dir", data_dir, "--profile", profile, "-b", 1,
        "--log-samples", samples, "-t", 2)
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(lines) == len(DOCS)
    for line, (question, choices, _) in zip(lines, DOCS):
        for choice, expected, greedy in zip(choices, line["loglikelihoods"], line["is_greedy"]):
            got, is_greedy = model.loglikelihood(f"Question: {question}\nAnswer:", " " + choice, profile=profile)
            assert got == pytest.approx(expected, abs=1e-4)
            assert is_greedy == greedy


def test_evaluate_returns_the_cli_results_json(model, cli, data_dir, tmp_path):
    results = tmp_path / "results.json"
    cli("eval", "--tasks", "arc_easy", "--data-dir", data_dir, "--limit", 3, "--output", results, "-t", 2)
    expected = json.loads(results.read_text())
    got = supra.evaluate(model, ["arc_easy"], data_dir, limit=3)
    for key in ("results", "n-samples", "n-shot", "versions"):  # the same scorer, batch size and documents
        assert got[key] == expected[key]
    assert got["config"]["profile"] == "v0.4.2" and got["supra"]["documents"] == 3
    log = tmp_path / "log.jsonl"
    assert supra.evaluate(model, "arc_easy", data_dir, log_samples=log)["n-samples"]["arc_easy"]["effective"] == 4
    assert len(log.read_text().splitlines()) == 4


def test_evaluation_errors(model, data_dir, tmp_path):
    with pytest.raises(FileNotFoundError):
        supra.evaluate(model, ["arc_easy"], tmp_path / "missing")
    with pytest.raises(ValueError, match="task"):
        supra.evaluate(model, ["no_such_task"], data_dir)
    with pytest.raises(ValueError, match="batch_size"):
        supra.evaluate(model, ["arc_easy"], data_dir, batch_size=0)
    with pytest.raises(ValueError):  # the data file of another task is missing
        supra.evaluate(model, ["piqa"], data_dir)
    with pytest.raises(ValueError, match="profile"):
        model.loglikelihood("a", " b", profile="v9")
    with pytest.raises(ValueError):
        model.loglikelihood("a", "")


EVALREF = ROOT.parent / "shared" / "fixtures" / "evalref"


@pytest.mark.parametrize("profile", ["v0.4.2", "v0.4.12"])
def test_loglikelihood_equals_the_shared_lm_eval_ground_truth(profile):
    """lm-eval's own per-choice log-likelihoods (../shared/fixtures/evalref, skipped without it):
    the first documents of every task, MMLU's 5-shot prompts included."""
    if not (EVALREF / "tiny32k" / "model.safetensors").exists():
        pytest.skip("../shared/fixtures/evalref is absent")
    tiny = supra.Model.from_pretrained(EVALREF / "tiny32k", threads=2)
    checked = 0
    for task_file in sorted((EVALREF / "public" / profile).glob("*.jsonl")):
        for line in task_file.read_text().splitlines()[:3]:
            for r in json.loads(line)["requests"]:
                got, is_greedy = tiny.loglikelihood(r["context"], r["continuation"], profile=profile)
                assert got == pytest.approx(r["loglikelihood"], abs=1e-4), (task_file.name, r["context"][-80:])
                assert is_greedy == r["is_greedy"]
                checked += 1
    assert checked > 40
