"""rewardlab inside the RL trainers, by their own extension points (docs/integrations.md).

- :mod:`rewardlab.integrations.verl`: advantage estimators registered in verl's registry
  (``algorithm.adv_estimator=rewardlab_grpo``).
- :mod:`rewardlab.integrations.verl_reward`: a rewardlab model as verl's custom reward function
  (``reward.custom_reward_function.path=pkg://rewardlab.integrations.verl_reward``).
- :mod:`rewardlab.integrations.openrlhf`: the reward file OpenRLHF loads with
  ``--reward.remote_url path/to/file.py`` (``reward_func(queries, prompts, labels)``).
- :mod:`rewardlab.integrations.trl`: a ``reward_funcs`` entry for TRL's ``GRPOTrainer``.

Each module imports its framework; import the one you use.
"""
