"""rewardlab's model as verl's custom reward function, loaded by verl's own loader and called by
its own reward managers on a real DataProto."""

import numpy as np
import pytest
import torch

pytest.importorskip("verl")

from omegaconf import OmegaConf  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo.reward import get_custom_reward_fn  # noqa: E402

from rewardlab.data.pairs import dialogue_text  # noqa: E402
from rewardlab.models import RewardModel  # noqa: E402
from tiny_models import word_tokenizer  # noqa: E402

PROMPTS = ["Human: help me please ? Assistant:", "Human: is the answer yes ? Assistant:"]
REPLIES = ["here is the answer", "no i can not do that", "you are welcome", "yes"]


def rollout_batch(tok):
    """What verl's trainer hands a reward manager: left-padded prompts, right-padded responses."""
    rows = [(PROMPTS[i % 2], r) for i, r in enumerate(REPLIES)]
    p_ids = [tok(p, add_special_tokens=False)["input_ids"] for p, _ in rows]
    r_ids = [tok(r, add_special_tokens=False)["input_ids"] for _, r in rows]
    P, R = max(map(len, p_ids)), max(map(len, r_ids))
    prompts = torch.zeros(len(rows), P, dtype=torch.long)
    responses = torch.zeros(len(rows), R, dtype=torch.long)
    mask = torch.zeros(len(rows), P + R, dtype=torch.long)
    for i, (p, r) in enumerate(zip(p_ids, r_ids)):
        prompts[i, P - len(p):] = torch.tensor(p)
        responses[i, : len(r)] = torch.tensor(r)
        mask[i, P - len(p): P + len(r)] = 1
    non_tensors = {
        "data_source": np.array(["hh"] * len(rows), dtype=object),
        "reward_model": np.array([{"ground_truth": None}] * len(rows), dtype=object),
        "extra_info": np.array([{"prompt": p} for p, _ in rows], dtype=object),
    }
    data = DataProto.from_dict(tensors={"prompts": prompts, "responses": responses, "attention_mask": mask},
                               non_tensors=non_tensors)
    return data, rows, [len(r) for r in r_ids]


def config(name, model_dir, manager="naive", url=None):
    kwargs = {"url": url} if url else {"model_dir": str(model_dir), "aggregate": "uwo", "lam": 0.5}
    return OmegaConf.create({"reward": {"custom_reward_function": {
        "path": "pkg://rewardlab.integrations.verl_reward", "name": name, "reward_kwargs": kwargs}}})


def expected(model_dir, rows, tok):
    model = RewardModel.load(model_dir)
    texts = [dialogue_text(p, tok.decode(tok(r, add_special_tokens=False)["input_ids"], skip_special_tokens=True))
             for p, r in rows]
    m = model.score_texts(texts, progress=False)
    return m.mean(axis=0) - 0.5 * m.std(axis=0), m.std(axis=0)


@pytest.fixture(scope="module")
def uwo_server(model_dir):
    from servers import start

    server = start(model_dir, "--aggregate", "uwo", "--lam", "0.5")
    yield server.url
    server.stop()


@pytest.mark.parametrize("route", ["in-process", "serve"])
@pytest.mark.parametrize("name,manager", [("compute_score", "naive"), ("compute_score_batch", "batch")])
def test_verls_reward_managers_put_rewardlab_rewards_on_the_last_response_token(model_dir, name, manager, route, request):
    from verl.workers.reward_manager import get_reward_manager_cls

    tok = word_tokenizer()
    url = request.getfixturevalue("uwo_server") if route == "serve" else None
    fn = get_custom_reward_fn(config(name, model_dir, url=url))  # verl's own loader, with reward_kwargs merged in
    reward_manager = get_reward_manager_cls(manager)(tokenizer=tok, num_examine=0, compute_score=fn)
    data, rows, lengths = rollout_batch(tok)
    out = reward_manager(data, return_dict=True)
    tensor = out["reward_tensor"]
    want, std = expected(model_dir, rows, tok)
    for i, n in enumerate(lengths):
        assert tensor[i, n - 1].item() == pytest.approx(float(want[i]), abs=1e-5)
        assert torch.count_nonzero(tensor[i, : n - 1]) == 0
    np.testing.assert_allclose(out["reward_extra_info"]["reward_std"], std, atol=1e-5)


def test_a_row_without_the_prompt_is_an_error_naming_where_to_put_it(model_dir):
    from rewardlab.integrations.verl_reward import compute_score

    with pytest.raises(ValueError, match=r"extra_info\[0\].*prompt.*question"):
        compute_score("hh", "yes", None, {"index": 3}, model_dir=str(model_dir))
    with pytest.raises(ValueError, match="model_dir"):
        compute_score("hh", "yes", None, {"prompt": "hi"})


def test_model_dir_and_url_together_are_refused(model_dir):
    from rewardlab.integrations.verl_reward import compute_score

    with pytest.raises(ValueError, match="url"):
        compute_score("hh", "yes", None, {"prompt": "Hi"}, model_dir=str(model_dir), url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="url"):
        compute_score("hh", "yes", None, {"prompt": "Hi"}, url="127.0.0.1:8000")
