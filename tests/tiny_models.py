"""Tiny models built on disk for tests that need a real architecture (nothing is downloaded)."""

from __future__ import annotations

WORDS = "hello thanks sorry yes no maybe please help here is the answer i can not do that you are welcome".split()


def word_tokenizer(words=WORDS):
    """A word-level fast tokenizer with ``<pad>`` (0), ``<eos>`` (1) and ``<unk>`` (2)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "<eos>", "<unk>", *words, "Human:", "Assistant:", "?"])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.decoder = decoders.Metaspace()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def tiny_policy(folder) -> str:
    """A one-layer random Llama over :func:`word_tokenizer`'s vocabulary, saved with it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = word_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
                         pad_token_id=0, eos_token_id=1, bos_token_id=None)
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} \n{% endfor %}"


def tiny_reward_model(folder, words=WORDS, chat: bool = False, seed: int = 0) -> str:
    """A one-layer random Llama sequence classifier with one label (the layout of TRL's
    RewardTrainer and RewardBench models), saved with a word tokenizer (and a chat template)."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    reserved = {"<pad>", "<eos>", "<unk>", "Human:", "Assistant:", "?"}  # word_tokenizer adds these itself
    tok = word_tokenizer([w for w in dict.fromkeys([*words, "user", "assistant", ":"]) if w not in reserved])
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                         pad_token_id=0, eos_token_id=1, bos_token_id=None, num_labels=1)
    LlamaForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)
