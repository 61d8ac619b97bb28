"""Log-probabilities of completions after prefixes with a causal LM: the inputs of RREDCoT's
importance-sampled state values, and a Monte Carlo baseline that pays for rollouts instead.

``state_logprobs(lm, pieces, completions)`` returns ``log π(c_m | s_k)`` ``[K, M]`` in float64 for
the growing states of one trace (``s_k`` = the first ``k + 1`` pieces): one pass over the trace,
then one batched pass over the completions that reuses the trace's key/value cache, each
completion masked to see only its state. ``completion_logprobs(lm, prefixes, completions)`` does
the same for unrelated prefixes with teacher-forced passes batched over (prefix, completion) pairs.
Prefix and completion are tokenised separately and concatenated, so a completion's tokens are the
same after every prefix and segment boundaries fall on token boundaries (the watch-out of the
paper notes). Sequences are right-padded: a causal LM never attends to the padding on its right,
so no position shift is needed; log-probs are gathered at the completion's positions only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

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
        """Adds ``other``'s counts and seconds to these."""
        self.forward_tokens += other.forward_tokens
        self.generated_tokens += other.generated_tokens
        self.seconds += other.seconds


@dataclass
class PrefixLM:
    """A causal LM with its tokenizer. ``max_length`` caps a sequence (a longer prefix keeps its
    right end); the default fits BIG-Bench Mistake's longest word-sorting traces (~2,600 tokens)
    and stays within SmolLM2's 8,192-token context."""

    tokenizer: Any
    model: Any
    batch_size: int = 8
    max_length: int = 4096
    count: TokenCount = field(default_factory=TokenCount)

    @classmethod
    def load(cls, spec: str = "smollm2", device: str | None = None, dtype: str | None = None, **kw) -> "PrefixLM":
        """The causal LM ``spec`` (``smollm2``, a model folder or a ``.gguf``; offline, no remote
        code) on ``device`` in ``dtype`` (:mod:`rewardlab.devices`; None: the process default)."""
        from rewardlab.lm import load_causal_lm

        tok, model = load_causal_lm(spec, device=device, dtype=dtype)
        return cls(tok, model, **kw)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


def completion_logprobs(lm: PrefixLM, prefixes: Sequence[str], completions: Sequence[str]) -> np.ndarray:
    """``log π(c_m | s_k)`` ``[len(prefixes), len(completions)]`` (float64); each prefix is
    tokenised as a whole. Use ``state_logprobs`` when the prefixes extend one another."""
    if not prefixes or not completions:
        raise invalid("prefixes", "give at least one prefix and one completion")
    comp_ids = _completion_ids(lm, completions)
    pre_ids = [lm.encode(p) for p in prefixes]
    return _forced_logprobs(lm, pre_ids, comp_ids)


def state_logprobs(lm: PrefixLM, pieces: Sequence[str], completions: Sequence[str]) -> np.ndarray:
    """``log π(c_m | s_k)`` ``[K, M]`` (float64) for the growing states ``s_k = pieces[0] + … +
    pieces[k]`` of one trace, with one forward pass over the trace and one batched pass over the
    completions that reuses its key/value cache.

    Each piece is tokenised on its own, so every state ends on a token boundary and ``s_{k+1}``'s
    tokens extend ``s_k``'s (the paper notes' watch-out). A completion after ``s_k`` attends to
    the cached trace up to ``s_k``'s end only (the rest is masked, positions continue from
    ``s_k``), which equals a separate pass over ``s_k + c_m``, at ``|trace| + K·M·|c|`` forward
    tokens instead of ``Σ_k |s_k| + K·M·|c|``. A trace longer than ``lm.max_length`` (or a model
    whose cache cannot be batched) falls back to separate passes with each state cut from the left.
    """
    import copy

    import torch

    if not pieces or not completions:
        raise invalid("pieces", "give at least one piece and one completion")
    comp_ids = _completion_ids(lm, completions)
    piece_ids = [lm.encode(p) for p in pieces]
    trace = [t for ids in piece_ids for t in ids]
    ends = np.cumsum([len(ids) for ids in piece_ids])
    if ends[0] == 0:
        raise invalid("pieces", "the first piece (the prompt, s_0) must have at least one token")
    longest = max(len(c) for c in comp_ids)
    if len(trace) + longest > lm.max_length:
        return _forced_logprobs(lm, [trace[:e] for e in ends], comp_ids)
    K, M, L = len(pieces), len(comp_ids), len(trace)
    out = np.empty((K, M))
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    started = time.perf_counter()
    with torch.inference_mode():
        dev = lm.model.device
        first = lm.model(input_ids=torch.tensor([trace], device=dev), use_cache=True)
        past = first.past_key_values
        if not hasattr(past, "batch_repeat_interleave"):
            return _forced_logprobs(lm, [trace[:e] for e in ends], comp_ids)
        lm.count.forward_tokens += L
        # the first completion token is predicted at the state's last position
        at_ends = torch.log_softmax(first.logits[0, torch.as_tensor(ends - 1)].double(), dim=-1)
        out[:] = at_ends[:, [c[0] for c in comp_ids]].cpu().numpy()
        rows = [(k, m) for k in range(K) for m in range(M) if len(comp_ids[m]) > 1]
        width = longest - 1
        for b in range(0, len(rows), lm.batch_size):
            batch = rows[b : b + lm.batch_size]
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            attn = torch.zeros((len(batch), L + width), dtype=torch.long)
            pos = torch.zeros((len(batch), width), dtype=torch.long)
            target = torch.zeros((len(batch), width), dtype=torch.long)  # the token each position predicts
            for i, (k, m) in enumerate(batch):
                feed = comp_ids[m][:-1]
                ids[i, : len(feed)] = torch.tensor(feed)
                target[i, : len(feed)] = torch.tensor(comp_ids[m][1:])
                attn[i, : ends[k]] = 1
                attn[i, L : L + len(feed)] = 1
                pos[i] = int(ends[k]) + torch.arange(width)
            cache = copy.deepcopy(past)
            cache.batch_repeat_interleave(len(batch))
            ids, attn, pos, target = (t.to(dev) for t in (ids, attn, pos, target))
            logits = lm.model(input_ids=ids, attention_mask=attn, position_ids=pos, past_key_values=cache).logits
            logp = torch.log_softmax(logits.double(), dim=-1).gather(-1, target[..., None])[..., 0]
            # summed on the device over each row's real positions; one copy to the host per batch
            sums = (logp * attn[:, L:]).sum(1).cpu().numpy()
            for i, (k, m) in enumerate(batch):
                out[k, m] += sums[i]
            lm.count.forward_tokens += int(attn[:, L:].sum())
    lm.count.seconds += time.perf_counter() - started
    return out


def _completion_ids(lm: PrefixLM, completions: Sequence[str]) -> list[list[int]]:
    ids = [lm.encode(c) for c in completions]
    if any(len(c) == 0 for c in ids):
        raise invalid("completions", "every completion must have at least one token")
    return ids


def _forced_logprobs(lm: PrefixLM, pre_ids: Sequence[list[int]], comp_ids: Sequence[list[int]]) -> np.ndarray:
    """Teacher-forced ``Σ log π(c | p)`` for every (prefix, completion) pair, right-padded batches;
    a prefix that does not fit ``lm.max_length`` with its completion keeps its end."""
    import torch

    jobs = [(k, m) for k in range(len(pre_ids)) for m in range(len(comp_ids))]
    out = np.empty((len(pre_ids), len(comp_ids)))
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
            ids, attn = pad_batch(seqs, pad, device=lm.model.device)
            logits = lm.model(input_ids=ids, attention_mask=attn).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0].double()
            # token t is predicted at position t - 1: each row sums positions [lo - 1, hi - 1)
            # on the device, and the batch's sums come to the host in one copy
            col = torch.arange(logp.shape[1], device=logp.device)
            lo = torch.tensor([a - 1 for a, _ in spans], device=logp.device)[:, None]
            hi = torch.tensor([b - 1 for _, b in spans], device=logp.device)[:, None]
            sums = torch.where((col >= lo) & (col < hi), logp, 0.0).sum(1).cpu().numpy()
            for i, (k, m) in enumerate(batch):
                out[k, m] = sums[i]
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
    max_rows: int = 64,
) -> np.ndarray:
    """The Monte Carlo baseline: ``V(s_k)`` as the mean utility of ``rollouts`` sampled
    continuations of each prefix (temperature 1, full vocabulary). The prefixes' rollouts are
    generated together, left-padded, at most ``max_rows`` rows per call. Counts prompt and
    generated tokens in ``lm.count``."""
    import torch

    if rollouts < 1:
        raise invalid("rollouts", f"must be at least 1, got {rollouts}")
    if max_new_tokens < 1:
        raise invalid("max_new_tokens", f"must be at least 1, got {max_new_tokens}")
    if not prefixes:
        raise invalid("prefixes", "give at least one prefix")
    torch.manual_seed(seed)
    pre_ids = [lm.encode(p)[-lm.max_length :] for p in prefixes]
    rows = [k for k in range(len(prefixes)) for _ in range(rollouts)]
    scores = np.empty(len(rows))
    started = time.perf_counter()
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    eos = lm.tokenizer.eos_token_id
    with torch.inference_mode():
        for b in range(0, len(rows), max(max_rows, 1)):
            batch = rows[b : b + max_rows]
            ids, attn = pad_batch([pre_ids[k] for k in batch], pad, left=True, device=lm.model.device)
            gen = lm.model.generate(
                input_ids=ids, attention_mask=attn, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                max_new_tokens=max_new_tokens, pad_token_id=pad,
            )
            new = gen[:, ids.shape[1] :].cpu()
            # a row that stopped early is padded after its EOS; count up to and including it
            done = (new == eos).int().cumsum(1)
            lengths = ((done == 0) | ((done == 1) & (new == eos))).sum(1)
            texts = lm.tokenizer.batch_decode(new, skip_special_tokens=True)
            scores[b : b + len(batch)] = [utility(t) for t in texts]
            lm.count.forward_tokens += int(attn.sum())
            lm.count.generated_tokens += int(lengths.sum())
    lm.count.seconds += time.perf_counter() - started
    return scores.reshape(len(prefixes), rollouts).mean(1)
