"""supra: SUPRA linear-attention language models (and their softmax Llama/Mistral teachers) from
Python, over the C++ engine. A walkthrough is in docs/PYTHON.md.

    import supra
    model = supra.Model.from_pretrained("models/stories260K-supra")
    print(model.generate("Once upon a time", max_new_tokens=40).text)
"""
import json as _json
import os as _os
import tempfile as _tempfile
from typing import Iterable, Optional, Union

# OpenMP reads its wait policy once, when the runtime loads (with the extension below). Its
# default spins idle workers, which slowed prefill 20-400x beside other work (docs/PERFORMANCE.md);
# the `supra` command chooses passive the same way. A policy set by the user stands.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._supra import (  # noqa: E402  (after the environment above)
    GenerationOutput,
    Model,
    State,
    TextStream,
    Tokenizer,
    __version__,
)
from . import _supra  # noqa: E402


def evaluate(
    model: Model,
    tasks: Union[str, Iterable[str]],
    data_dir: Union[str, "_os.PathLike[str]"],
    limit: Optional[int] = None,
    num_fewshot: Optional[int] = None,
    profile: str = "v0.4.2",
    batch_size: int = 16,
    log_samples: Optional[Union[str, "_os.PathLike[str]"]] = None,
) -> dict:
    """Scores benchmarks as `supra eval` does (lm-evaluation-harness rules) and returns its results
    JSON as a dict ("results", "groups", "n-shot", "n-samples", "config", ...).

    tasks: names or a comma-separated string (hellaswag, piqa, winogrande, arc_easy, arc_challenge,
    mmlu, mmlu_<subject>); data_dir: a folder laid out like the shared assets/eval; limit: the
    first N documents of each task; log_samples: also write the per-document JSON lines there.
    """
    names = tasks.split(",") if isinstance(tasks, str) else list(tasks)
    with _tempfile.TemporaryDirectory(prefix="supra-eval-") as tmp:
        results = _os.path.join(tmp, "results.json")
        _supra._evaluate(
            model,
            names,
            _os.fspath(data_dir),
            limit,
            num_fewshot,
            profile,
            batch_size,
            results,
            _os.fspath(log_samples) if log_samples is not None else "",
        )
        with open(results, encoding="utf-8") as f:
            return _json.load(f)


__all__ = ["GenerationOutput", "Model", "State", "TextStream", "Tokenizer", "evaluate", "__version__"]
