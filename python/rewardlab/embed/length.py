"""The reply's length as a feature, for concatenation with a text embedder (``minilm+length``).

Sentence embeddings are L2-normalised, so they carry a reply's length only indirectly, yet length
is what a reward model is most often caught learning: on HH-RLHF harmless "the shorter reply
wins" is right 57% of the time. Given length as an explicit input, a head can use it and fit what
the text adds beyond it (docs/models.md measures whether that helps).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from rewardlab.data.pairs import ASSISTANT_TAG

# log(1 + words) / log(1001): 0 for an empty reply, 1 at 1,000 words, so the feature sits on the
# scale of the embedders' coordinates rather than dwarfing them (the heads see raw features)
_SCALE = math.log(1001.0)


def reply_words(text: str) -> int:
    """Whitespace words after the last ``\\n\\nAssistant:`` tag (the whole text when it has none):
    the reply of a dialogue text as :func:`rewardlab.data.pairs.dialogue_text` builds it."""
    cut = text.rfind(ASSISTANT_TAG)
    return len((text[cut + len(ASSISTANT_TAG):] if cut >= 0 else text).split())


class LengthEmbedder:
    """One feature: ``log(1 + reply words) / log(1001)``."""

    name = "length"
    id = "length|log1p-reply-words/log1001|v1"
    dim = 1

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 ``[len(texts), 1]``."""
        return np.array([[math.log1p(reply_words(t)) / _SCALE] for t in texts], np.float32)
