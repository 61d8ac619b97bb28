"""rewardlab inside the RL trainers, by their own extension points (docs/integrations.md).

- :mod:`rewardlab.integrations.verl`: advantage estimators registered in verl's registry
  (``algorithm.adv_estimator=rewardlab_grpo``).

Each module imports its framework; import the one you use.
"""
