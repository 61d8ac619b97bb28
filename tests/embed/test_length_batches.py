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
