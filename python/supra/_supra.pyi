# Type stub of the native module supra._supra (python/src/*.cpp), for editors and type checkers.
import os
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

# Token ids: a list or tuple of ints, a 1-D (or HF's [1, T]) integer NumPy array, or anything
# np.asarray turns into one (a CPU torch tensor).
Ids = Union[Sequence[int], npt.NDArray[np.integer], Any]

__version__: str

class Tokenizer:
    """The model folder's SentencePiece tokenizer (HF LlamaTokenizer conventions)."""
    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]: ...
    def decode(self, ids: Ids) -> str: ...
    def id_to_piece(self, id: int) -> str: ...
    @property
    def bos_token_id(self) -> int: ...
    @property
    def eos_token_id(self) -> Optional[int]: ...
    @property
    def eos_token_ids(self) -> List[int]: ...
    @property
    def vocab_size(self) -> int: ...
    def __len__(self) -> int: ...

class State:
    """What a model remembers of the tokens it has read (fixed size for SUPRA). Copy to fork."""
    def copy(self) -> State: ...
    def __copy__(self) -> State: ...
    def __deepcopy__(self, memo: dict) -> State: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(model: Model, data: bytes) -> State: ...
    @property
    def position(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def tokens(self) -> List[int]: ...
    @property
    def model(self) -> Model: ...

class GenerationOutput:
    @property
    def text(self) -> str: ...
    @property
    def ids(self) -> List[int]: ...
    @property
    def prompt_ids(self) -> List[int]: ...
    @property
    def finish_reason(self) -> str: ...
    @property
    def seed(self) -> int: ...

class TextStream(Iterator[str]):
    def __iter__(self) -> TextStream: ...
    def __next__(self) -> str: ...
    @property
    def output(self) -> Optional[GenerationOutput]: ...

class Model:
    @staticmethod
    def from_pretrained(
        path: Union[str, os.PathLike[str]], *, dtype: Optional[Any] = None, threads: Optional[int] = None
    ) -> Model: ...
    @property
    def config(self) -> dict: ...
    @property
    def tokenizer(self) -> Tokenizer: ...
    @property
    def path(self) -> str: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def threads(self) -> Optional[int]: ...
    @property
    def weights(self) -> str: ...
    def new_state(self) -> State: ...
    def logits(self, ids: Ids, state: Optional[State] = None, mode: str = "hybrid") -> npt.NDArray[np.float32]: ...
    def logits_batch(
        self, sequences: Sequence[Ids], states: Optional[Sequence[Optional[State]]] = None
    ) -> List[npt.NDArray[np.float32]]: ...
    def generate(
        self,
        prompt: Union[str, Ids],
        *,
        max_new_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        top_k: Optional[int] = None,
        top_p: Optional[float] = None,
        min_p: Optional[float] = None,
        repetition_penalty: Optional[float] = None,
        do_sample: Optional[bool] = None,
        seed: Optional[int] = None,
        stop: Optional[Union[str, Sequence[str]]] = None,
        state: Optional[State] = None,
        mode: str = "hybrid",
    ) -> GenerationOutput: ...
    def stream(
        self,
        prompt: Union[str, Ids],
        *,
        max_new_tokens: Optional[int] = None,
        temperature: Optional[float] = None,
        top_k: Optional[int] = None,
        top_p: Optional[float] = None,
        min_p: Optional[float] = None,
        repetition_penalty: Optional[float] = None,
        do_sample: Optional[bool] = None,
        seed: Optional[int] = None,
        stop: Optional[Union[str, Sequence[str]]] = None,
        state: Optional[State] = None,
        mode: str = "hybrid",
    ) -> TextStream: ...
    def loglikelihood(self, context: str, continuation: str, *, profile: str = "v0.4.2") -> Tuple[float, bool]: ...

def _evaluate(
    model: Model,
    tasks: List[str],
    data_dir: str,
    limit: Optional[int],
    num_fewshot: Optional[int],
    profile: str,
    batch_size: int,
    results_path: str,
    log_samples_path: str,
) -> None: ...
