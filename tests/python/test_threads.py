"""Two Python threads, each with its own State, on one model: the same results as alone, and the
GIL is released while the model works (another thread runs meanwhile)."""
import threading

import numpy as np

TEXTS = ["Once upon a time there was a little girl", "The dog ran to the park and saw a big red ball"]


def work(model, text):
    state = model.new_state()
    logits = [model.logits(model.tokenizer.encode(text), state=state)]
    for _ in range(20):
        logits.append(model.logits([int(np.argmax(logits[-1][-1]))], state=state, mode="recurrent"))
    out = model.generate(text, max_new_tokens=30, do_sample=True, seed=11)
    return np.concatenate(logits), out.ids


def test_two_threads_with_their_own_states(model):
    alone = [work(model, t) for t in TEXTS]
    for _ in range(3):
        results = [None, None]

        def run(i):
            results[i] = work(model, TEXTS[i])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for (logits, ids), (want_logits, want_ids) in zip(results, alone):
            np.testing.assert_array_equal(logits, want_logits)
            assert ids == want_ids


def test_the_gil_is_released_during_generation(model):
    running = threading.Event()
    finished = threading.Event()
    ticks = []

    def generate():
        running.set()
        model.generate("Once upon a time", max_new_tokens=300, do_sample=True, seed=5)
        finished.set()

    t = threading.Thread(target=generate)
    t.start()
    running.wait()
    while not finished.is_set():
        ticks.append(1)
        finished.wait(0.001)
    t.join()
    assert ticks  # this thread ran while the other one generated
