"""Log-probabilities of completions after prefixes with a causal LM: the inputs of RREDCoT's
importance-sampled state values, and a Monte Carlo baseline that pays for rollouts instead.

``completion_logprobs(lm, prefixes, completions)`` returns ``log π(c_m | s_k)`` ``[K, M]`` in
float64 from teacher-forced forward passes, batched over (prefix, completion) pairs. Prefix and
completion are tokenised separately and concatenated, so a completion's tokens are the same after
every prefix and segment boundaries fall on token boundaries (the watch-out of the paper notes).
Sequences are right-padded: a causal LM never attends to the padding on its right, so no position
shift is needed; log-probs are gathered at the completion's positions only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from rewardlab.errors import invalid
from rewardlab.lm import pad_batch


@dataclass
class TokenCount:
    """Tokens the LM processed (prompt side) and generated, and the seconds spent."""

    forward_tokens: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0

    def add(self, other: "TokenCount") -> None:
        self.forward_tokens += other.forward_tokens
        self.generated_tokens += other.generated_tokens
        self.seconds += other.seconds


@dataclass
class PrefixLM:
    """A causal LM with its tokenizer, ``max_length`` cap (tokens kept from the right of a prefix)."""

    tokenizer: object
    model: object
    batch_size: int = 8
    max_length: int = 1024
    count: TokenCount = field(default_factory=TokenCount)

    @classmethod
    def load(cls, spec: str = "smollm2", **kw) -> "PrefixLM":
        from rewardlab.lm import load_causal_lm

        tok, model = load_causal_lm(spec)
        return cls(tok, model, **kw)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


def completion_logprobs(lm: PrefixLM, prefixes: Sequence[str], completions: Sequence[str]) -> np.ndarray:
    """``log π(c_m | s_k)`` ``[len(prefixes), len(completions)]`` (float64)."""
    import torch

    if not prefixes or not completions:
        raise invalid("prefixes", "give at least one prefix and one completion")
    comp_ids = [lm.encode(c) for c in completions]
    if any(len(c) == 0 for c in comp_ids):
        raise invalid("completions", "every completion must have at least one token")
    pre_ids = [lm.encode(p) for p in prefixes]
    jobs = [(k, m) for k in range(len(prefixes)) for m in range(len(completions))]
    out = np.empty((len(prefixes), len(completions)))
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    started = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(jobs), lm.batch_size):
            batch = jobs[b : b + lm.batch_size]
            seqs, spans = [], []
            for k, m in batch:
                c = comp_ids[m]
                p = pre_ids[k][-max(1, lm.max_length - len(c)) :]  # keep the prefix's end
                seqs.append(p + c)
                spans.append((len(p), len(p) + len(c)))
            ids, attn = pad_batch(seqs, pad)
            logits = lm.model(input_ids=ids, attention_mask=attn).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
            for i, ((k, m), (lo, hi)) in enumerate(zip(batch, spans)):
                # token t is predicted at position t - 1
                out[k, m] = float(logp[i, lo - 1 : hi - 1].double().sum())
            lm.count.forward_tokens += int(attn.sum())
    lm.count.seconds += time.perf_counter() - started
    return out


def monte_carlo_values(
    lm: PrefixLM,
    prefixes: Sequence[str],
    utility: Callable[[str], float],
    rollouts: int = 8,
    max_new_tokens: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """The Monte Carlo baseline: ``V(s_k)`` as the mean utility of ``rollouts`` sampled
    continuations of each prefix (temperature 1). Counts generated tokens in ``lm.count``."""
    import torch

    if rollouts < 1:
        raise invalid("rollouts", f"must be at least 1, got {rollouts}")
    torch.manual_seed(seed)
    values = np.empty(len(prefixes))
    started = time.perf_counter()
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    with torch.inference_mode():
        for k, prefix in enumerate(prefixes):
            p = lm.encode(prefix)[-lm.max_length :]
            ids = torch.tensor([p] * rollouts)
            gen = lm.model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=1.0, top_k=0,
                max_new_tokens=max_new_tokens, pad_token_id=pad,
            )
            new = gen[:, len(p) :]
            texts = lm.tokenizer.batch_decode(new, skip_special_tokens=True)
            values[k] = float(np.mean([utility(t) for t in texts]))
            lm.count.forward_tokens += len(p) * rollouts
            lm.count.generated_tokens += int((new != pad).sum())
    lm.count.seconds += time.perf_counter() - started
    return values
