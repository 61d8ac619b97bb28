"""One scorer per (model, rules, cache) and process, also under concurrent first calls."""

from concurrent.futures import ThreadPoolExecutor

from rewardlab.serve.scorer import ServeRules, shared_scorer


def test_one_scorer_per_model_rules_and_cache(model_dir):
    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda _: shared_scorer(model_dir, ServeRules(aggregate="uwo", lam=0.5)), range(8)))
    assert all(s is first[0] for s in first)
    assert shared_scorer(str(model_dir) + "/", ServeRules(aggregate="uwo", lam=0.5)) is first[0]  # same folder
    assert shared_scorer(model_dir, ServeRules(aggregate="uwo", lam=1.0)) is not first[0]
    assert shared_scorer(model_dir, ServeRules(aggregate="uwo", lam=0.5), cache_dir=True) is not first[0]
