"""Token-budget batching: every text once, in batches that respect both limits."""

from hypothesis import example, given
from hypothesis import strategies as st

from rewardlab.embed import length_batches


class WordCounter:
    """An embedder's token counter: one token per word."""

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


class NoCounter:
    pass


texts_st = st.lists(st.integers(0, 300).map(lambda n: "w " * n), max_size=80)


@given(texts_st, st.integers(1, 70), st.integers(1, 2000))
@example(["w " * 300], 4, 10)  # one text over the budget goes alone
def test_every_text_once_within_both_limits(texts, batch_size, budget):
    batches = length_batches(WordCounter(), texts, batch_size, budget)
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))
    tokens = WordCounter().count_tokens(texts)
    for b in batches:
        assert 1 <= len(b) <= batch_size
        longest = max(tokens[i] for i in b)
        assert len(b) == 1 or longest * len(b) <= budget
        assert tokens[b[0]] == longest  # longest first
    firsts = [tokens[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)


def test_without_a_counter_or_a_budget_batches_are_fixed_size_by_length():
    texts = ["a", "abc", "ab", "abcd", "abcde"]
    for embedder, budget in ((NoCounter(), 5), (WordCounter(), None)):
        assert length_batches(embedder, texts, 2, budget) == [[4, 3], [1, 2], [0]]


def test_causal_lm_embedders_count_what_they_read_and_batch_by_it(tmp_path):
    # the lm: embedders had no counter, so their batches ignored the token budget
    from rewardlab.embed import get_embedder
    from tiny_models import tiny_policy

    embedder = get_embedder("lm:" + tiny_policy(tmp_path / "lm"), device="cpu", dtype="float32")
    texts = ["hello " * n + "?" for n in (1, 40, 3, 700, 12)]
    ids = [embedder.tokenizer(t)["input_ids"] for t in texts]
    assert embedder.count_tokens(texts) == [min(len(i), embedder.max_tokens) for i in ids]
    batches = length_batches(embedder, texts, 64, 100)
    assert batches[0] == [3] and sorted(i for b in batches for i in b) == list(range(5))
    assert all(len(b) == 1 or max(embedder.count_tokens([texts[i] for i in b])) * len(b) <= 100 for b in batches)
