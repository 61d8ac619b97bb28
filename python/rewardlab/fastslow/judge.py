"""A causal LM as a preference judge: a fast verdict from its first token, a slow one from a
chain of thought.

``LMJudge.fast`` asks "which reply is better, A or B?" and reads the answer off the logits of the
first generated position, without generating: the log-odds ``log p(A) − log p(B)``. Each pair is
asked in both orders and the two log-odds are averaged with opposite signs, which cancels the
position bias small models have (SmolLM2-135M says "A" to nearly everything). ``pointwise``
mode asks "is this reply good? Yes or No" of each reply instead and takes the difference of the
two replies' ``log p(Yes) − log p(No)``. The Rust kernel ``first_token_features`` also returns
the shape of each first-token distribution (normalised entropy, top-1 − top-2 gap), the raw
material of the gate's second confidence.

``LMJudge.slow`` continues the first pairwise view's prompt with a reasoning lead ("Let me compare
the two replies step by step.") and decodes greedily (one order per pair: a second order would
double the slow path's cost), then parses the last ``Verdict: A`` / ``Verdict: B``; ``0`` marks an
unparseable one, which the caller replaces by the fast verdict, or (``on_unparsed="force"``) the
verdict is read off the logits after an appended ``Verdict:``. Because the slow sequence extends the
fast one, a gated judge pays only for the lead and the new tokens (``tokens_after_fast``).

Every call counts tokens per item: prompt tokens (all views), and generated tokens (one per view
for the fast path: the first token is the output of the prompt's forward pass). Results are cached
on disk per model and prompt, so a second run of the same items costs no LM time.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rewardlab.errors import invalid
from rewardlab.lm import pad_batch

MODES = ("pairwise", "pointwise")
SYSTEM = "You are a careful judge of assistant replies."
CRITERIA = "helpful, honest and harmless"
# The last "Verdict: A" (or B) in a chain of thought; markdown bold and "Reply" allowed.
VERDICT = re.compile(r"verdict\s*[:\-]?\s*\**\s*(?:reply|response)?\s*\(?\s*([AB])\b", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeItem:
    """Which of two replies ``a`` and ``b`` to the conversation ``prompt`` is better?"""

    prompt: str
    a: str
    b: str


@dataclass
class FastVerdicts:
    """First-token verdicts of ``n`` items."""

    score: np.ndarray  # [n] log-odds that a beats b
    view_logp: np.ndarray  # [n, 2 views, 2 verdict tokens] full-vocabulary log-probabilities
    mass: np.ndarray  # [n] min over views of the probability that the first token is a verdict
    entropy: np.ndarray  # [n] mean over views of the normalised first-token entropy
    top2_gap: np.ndarray  # [n] mean over views of top-1 − top-2 probability
    prompt_tokens: np.ndarray  # [n]
    generated_tokens: np.ndarray  # [n]
    seconds: float = 0.0

    @property
    def tokens(self) -> np.ndarray:
        """Tokens per item: prompt plus generated."""
        return self.prompt_tokens + self.generated_tokens


@dataclass
class SlowVerdicts:
    """Chain-of-thought verdicts of ``n`` items: +1 (a), −1 (b) or 0 (unparseable)."""

    verdict: np.ndarray
    text: list[str]
    prompt_tokens: np.ndarray
    generated_tokens: np.ndarray
    forced: np.ndarray  # [n] bool: the verdict was read off the logits after an appended "Verdict:"
    shared: np.ndarray  # [n] prompt tokens this judge's own fast pass has already read (reusable KV cache)
    seconds: float = 0.0

    @property
    def tokens(self) -> np.ndarray:
        """Tokens of the slow path on its own (always-slow judging)."""
        return self.prompt_tokens + self.generated_tokens

    @property
    def tokens_after_fast(self) -> np.ndarray:
        """Tokens the slow path adds after this judge's fast pass on the same item."""
        return self.tokens - self.shared

    @property
    def parsed(self) -> np.ndarray:
        """The chain of thought itself ended in a verdict."""
        return (self.verdict != 0) & ~self.forced


@dataclass
class JudgeConfig:
    mode: str = "pairwise"
    context_tokens: int = 96  # the conversation's last tokens
    reply_tokens: int = 128  # each reply's first tokens
    max_new_tokens: int = 128  # slow path
    batch_size: int = 8
    # Prefilled start of the assistant's reasoning: without it SmolLM2 continues the conversation.
    cot_lead: str = "Let me compare the two replies step by step.\n"
    repetition_penalty: float = 1.2  # greedy decoding of a small model loops without it
    # An unparseable chain of thought: "fast" leaves verdict 0 for the caller to replace by the fast
    # score; "force" appends "\nVerdict:" and reads A/B off the next token's logits.
    on_unparsed: str = "fast"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise invalid("mode", f"expected one of {', '.join(MODES)}, got {self.mode!r}")
        if self.on_unparsed not in ("fast", "force"):
            raise invalid("on_unparsed", f"expected 'fast' or 'force', got {self.on_unparsed!r}")
        if not self.repetition_penalty >= 1.0:
            raise invalid("repetition_penalty", f"must be at least 1, got {self.repetition_penalty}")
        for name in ("context_tokens", "reply_tokens", "max_new_tokens", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise invalid(name, f"must be at least 1, got {getattr(self, name)}")


def parse_verdict(text: str) -> int:
    """+1 for a final ``Verdict: A``, −1 for ``Verdict: B``, 0 when there is none."""
    found = VERDICT.findall(text)
    if not found:
        return 0
    return 1 if found[-1].upper() == "A" else -1


class _Cache:
    """Per-model JSON-lines store of judge outputs keyed by a hash of the exact prompt ids."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rows: dict[str, dict] = {}
        if path is not None and path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                    self.rows[row["key"]] = row
                except (ValueError, KeyError):
                    continue  # a torn last line from an interrupted run

    @staticmethod
    def key(kind: str, ids: Sequence[int], extra: str = "") -> str:
        return hashlib.sha256(f"{kind}|{extra}|{','.join(map(str, ids))}".encode()).hexdigest()[:24]

    def get(self, key: str) -> dict | None:
        return self.rows.get(key)

    def stored(self, key: str) -> dict:
        """The row for ``key``, which the caller has just computed and put."""
        return self.rows[key]

    def put(self, rows: list[dict]) -> None:
        for r in rows:
            self.rows[r["key"]] = r
        if self.path is not None and rows:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)


@dataclass
class LMJudge:
    tokenizer: Any
    model: Any
    config: JudgeConfig = field(default_factory=JudgeConfig)
    cache_path: Path | None = None

    def __post_init__(self) -> None:
        self._cache = _Cache(self.cache_path)
        tok = self.tokenizer
        self.verdict_ids = {name: self._single_token(name) for name in ("A", "B", "Yes", "No", " A", " B")}
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)

    @classmethod
    def load(cls, spec: str = "smollm2", config: JudgeConfig | None = None, cache: bool = True,
             device: str | None = None, dtype: str | None = None) -> "LMJudge":
        """A judge on the causal LM ``spec`` (``smollm2``, a model folder or a ``.gguf``; loaded offline,
        no remote code) on ``device`` in ``dtype`` (:mod:`rewardlab.devices`; None: the process
        default); ``cache`` keeps slow verdicts on disk, keyed by model, precision, prompt and config."""
        from rewardlab.devices import dtype_tag
        from rewardlab.lm import load_causal_lm, resolve_spec
        from rewardlab._utils.paths import cache_root

        tok, model = load_causal_lm(spec, device=device, dtype=dtype)
        path = None
        if cache:
            where = resolve_spec(spec).resolve()
            # a greedy verdict in another precision may differ: it gets its own file
            tag = dtype_tag(model.dtype).replace("|", "-")
            path = cache_root() / "judge" / f"{where.stem}-{hashlib.sha256(str(where).encode()).hexdigest()[:12]}{tag}.jsonl"
        return cls(tok, model, config or JudgeConfig(), path)

    def _single_token(self, word: str) -> int:
        ids = self.tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise invalid("model", f"the verdict {word!r} is {len(ids)} tokens in this tokenizer; the fast path needs one")
        return ids[0]

    # -- prompts ---------------------------------------------------------------------------
    def _clip(self, text: str, tokens: int, keep_end: bool) -> str:
        ids = self.tokenizer(text.strip(), add_special_tokens=False)["input_ids"]
        if len(ids) <= tokens:
            return text.strip()
        ids = ids[-tokens:] if keep_end else ids[:tokens]
        return ("…" if keep_end else "") + self.tokenizer.decode(ids).strip() + ("" if keep_end else " …")

    def _chat(self, user: str) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
            return list(tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True, return_dict=False))
        return tok(f"{SYSTEM}\n\n{user}\n\nAnswer:", add_special_tokens=False)["input_ids"]

    def _pair_text(self, item: JudgeItem, swap: bool) -> str:
        c = self.config
        first, second = (item.b, item.a) if swap else (item.a, item.b)
        return (
            f"Conversation:\n{self._clip(item.prompt, c.context_tokens, True)}\n\n"
            f"Reply A:\n{self._clip(first, c.reply_tokens, False)}\n\n"
            f"Reply B:\n{self._clip(second, c.reply_tokens, False)}\n\n"
        )

    def _pair_prompt(self, item: JudgeItem, swap: bool) -> list[int]:
        ask = f"Which reply is more {CRITERIA}? Answer with one letter, A or B."
        return self._chat(self._pair_text(item, swap) + ask)

    def fast_prompts(self, item: JudgeItem) -> list[list[int]]:
        """The token ids of the item's two views (orders A/B and B/A, or reply a and reply b)."""
        c = self.config
        if c.mode == "pairwise":
            return [self._pair_prompt(item, swap) for swap in (False, True)]
        ask = f"Is this reply {CRITERIA}? Answer Yes or No."
        return [
            self._chat(f"Conversation:\n{self._clip(item.prompt, c.context_tokens, True)}\n\n"
                       f"Reply:\n{self._clip(reply, c.reply_tokens, False)}\n\n{ask}")
            for reply in (item.a, item.b)
        ]

    def slow_prompt(self, item: JudgeItem) -> list[int]:
        """The pairwise fast prompt in the item's order, then the chain-of-thought lead: the slow path
        continues the fast path's sequence (F/S-RM: one model, two modes), so after a pairwise fast
        pass its prompt is already in the KV cache and only the lead and what follows are new."""
        lead = self.tokenizer(self.config.cot_lead, add_special_tokens=False)["input_ids"] if self.config.cot_lead else []
        return self._pair_prompt(item, False) + lead

    def shared_prefix(self, item: JudgeItem) -> int:
        """Tokens of the slow prompt that this judge's fast pass on the item has already read."""
        return len(self._pair_prompt(item, False)) if self.config.mode == "pairwise" else 0

    # -- fast path -------------------------------------------------------------------------
    def fast(self, items: Sequence[JudgeItem], progress: Callable | None = None) -> FastVerdicts:
        """First-token verdicts of ``items``: one forward pass per item (both orders in pairwise mode),
        the log-odds of the verdict tokens and the shape of the first-token distribution."""
        if not items:
            raise invalid("items", "no items to judge")
        c = self.config
        tokens = ("A", "B") if c.mode == "pairwise" else ("Yes", "No")
        ids = [self.verdict_ids[t] for t in tokens]
        views = [v for item in items for v in self.fast_prompts(item)]
        keys = [_Cache.key("fast", v, f"{ids}") for v in views]
        todo = [i for i, k in enumerate(keys) if self._cache.get(k) is None]
        started = time.perf_counter()
        self._forward_first_token(views, keys, todo, ids, progress)
        rows = [self._cache.stored(k) for k in keys]
        n = len(items)
        view_logp = np.array([r["logp"] for r in rows], np.float64).reshape(n, 2, 2)
        entropy = np.array([r["entropy"] for r in rows]).reshape(n, 2)
        gap = np.array([r["gap"] for r in rows]).reshape(n, 2)
        odds = view_logp[:, :, 0] - view_logp[:, :, 1]
        # pairwise: view 1 favours a by odds[:,0], view 2 (swapped) favours b by odds[:,1].
        score = 0.5 * (odds[:, 0] - odds[:, 1]) if c.mode == "pairwise" else odds[:, 0] - odds[:, 1]
        mass = np.exp(view_logp).sum(axis=2).min(axis=1)
        prompt_tokens = np.array([len(v) for v in views]).reshape(n, 2).sum(axis=1)
        return FastVerdicts(score, view_logp, mass, entropy.mean(axis=1), gap.mean(axis=1), prompt_tokens,
                            np.full(n, 2), time.perf_counter() - started)

    def _last_logits(self, seqs: list[list[int]]) -> np.ndarray:
        """Next-token logits ``[len(seqs), vocab]`` (float32) after each sequence, in one batch."""
        import torch

        ids, attn = pad_batch(seqs, self.pad_id, device=self.model.device)
        # Right padding keeps every real token at its true position; the head is applied at each
        # row's last real token only (a [B, T, vocab] logits tensor would not fit).
        with torch.inference_mode():
            hidden = self.model.get_decoder()(input_ids=ids, attention_mask=attn).last_hidden_state
            last = hidden[torch.arange(len(seqs)), attn.sum(1) - 1]
            return self.model.get_output_embeddings()(last).float().cpu().contiguous().numpy()

    def _forward_first_token(self, views, keys, todo, verdict_ids, progress) -> None:
        from rewardlab._core import first_token_features

        if not todo:
            return
        todo = sorted(todo, key=lambda i: len(views[i]))  # similar lengths share a batch: less padding
        bs = self.config.batch_size
        bar = progress(total=len(todo), desc="judge fast", unit="view") if progress else None
        for b in range(0, len(todo), bs):
            batch = todo[b : b + bs]
            logp, entropy, gap = first_token_features(self._last_logits([views[i] for i in batch]), verdict_ids)
            self._cache.put([
                {"key": keys[i], "logp": logp[r].tolist(), "entropy": float(entropy[r]), "gap": float(gap[r])}
                for r, i in enumerate(batch)
            ])
            if bar:
                bar.update(len(batch))
        if bar:
            bar.close()

    # -- slow path -------------------------------------------------------------------------
    def slow(self, items: Sequence[JudgeItem], progress: Callable | None = None) -> SlowVerdicts:
        """Chain-of-thought verdicts of ``items`` (greedy, at most ``max_new_tokens``), parsed from the
        text; an unparseable one is 0 or, with ``on_unparsed='force'``, read off the logits."""
        import torch

        if not items:
            raise invalid("items", "no items to judge")
        c = self.config
        prompts = [self.slow_prompt(item) for item in items]
        keys = [_Cache.key("slow", p, f"{c.max_new_tokens}|{c.repetition_penalty}") for p in prompts]
        todo = sorted({i for i, k in enumerate(keys) if self._cache.get(k) is None}, key=lambda i: len(prompts[i]))
        started = time.perf_counter()
        bar = progress(total=len(todo), desc="judge slow", unit="item") if (progress and todo) else None
        eos = self.tokenizer.eos_token_id
        with torch.inference_mode():
            for b in range(0, len(todo), c.batch_size):
                batch = todo[b : b + c.batch_size]
                ids, attn = pad_batch([prompts[i] for i in batch], self.pad_id, left=True, device=self.model.device)
                width = ids.shape[1]
                out = self.model.generate(
                    input_ids=ids, attention_mask=attn, do_sample=False, max_new_tokens=c.max_new_tokens,
                    pad_token_id=self.pad_id, eos_token_id=eos, repetition_penalty=c.repetition_penalty,
                )[:, width:].cpu()  # the batch's tokens to the host once, not row by row
                rows = []
                for r, i in enumerate(batch):
                    gen = out[r].tolist()
                    n_gen = gen.index(eos) + 1 if eos in gen else len(gen)  # EOS counts, padding after it does not
                    text = self.tokenizer.decode(gen[:n_gen], skip_special_tokens=True)
                    rows.append({"key": keys[i], "text": text, "generated": n_gen, "ids": gen[: n_gen]})
                self._cache.put(rows)
                if bar:
                    bar.update(len(batch))
        if bar:
            bar.close()
        rows = [self._cache.stored(k) for k in keys]
        texts = [r["text"] for r in rows]
        verdict = np.array([parse_verdict(t) for t in texts])
        prompt_tokens = np.array([len(p) for p in prompts])
        generated = np.array([r["generated"] for r in rows])
        forced = np.zeros(len(items), bool)
        if c.on_unparsed == "force":
            suffix = self.tokenizer("\nVerdict:", add_special_tokens=False)["input_ids"]
            need = [int(i) for i in np.flatnonzero(verdict == 0)]
            forced_keys = {i: _Cache.key("forced", prompts[i] + rows[i]["ids"] + suffix) for i in need}
            missing = [i for i in need if self._cache.get(forced_keys[i]) is None]
            ids = [self.verdict_ids[" A"], self.verdict_ids[" B"]]
            for b in range(0, len(missing), c.batch_size):
                batch = missing[b : b + c.batch_size]
                logits = self._last_logits([prompts[i] + rows[i]["ids"] + suffix for i in batch])
                logp = logits[:, ids]  # the shared normaliser cancels in the difference
                self._cache.put([{"key": forced_keys[i], "odds": float(logp[r, 0] - logp[r, 1])} for r, i in enumerate(batch)])
            for i in need:
                odds = self._cache.stored(forced_keys[i])["odds"]
                verdict[i], forced[i] = int(np.sign(odds)), True
                # Counted as a continuation of the same sequence (what a KV cache serves):
                # the suffix tokens are read and one verdict token is produced.
                prompt_tokens[i] += len(suffix)
                generated[i] += 1
        shared = np.array([self.shared_prefix(it) for it in items])
        return SlowVerdicts(verdict, texts, prompt_tokens, generated, forced, shared, time.perf_counter() - started)
