//! Bindings of `rewardlab_core::credit::multi_reward`: TRL's weighted multi-reward group normalisation.

use super::*;
use rewardlab_core::credit::multi_reward;

/// TRL's GRPO normalisation of `[n, n_funcs]` rewards (NaN: not scored) in contiguous groups of
/// `num_generations`: `(advantages, is_std_zero)`.

#[pyfunction]
#[pyo3(signature = (rewards_per_func, reward_weights, num_generations, scale_rewards, multi_objective_aggregation))]
pub fn group_normalize<'py>(
    py: Python<'py>,
    rewards_per_func: &Bound<'py, PyAny>,
    reward_weights: Vec<f64>,
    num_generations: usize,
    scale_rewards: &str,
    multi_objective_aggregation: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let scale = match scale_rewards {
        "group" => Scale::Group,
        "batch" => Scale::Batch,
        "none" => Scale::None,
        other => return Err(invalid("scale_rewards", format!("must be 'batch', 'group' or 'none', got {other:?}"))),
    };
    let aggregation = match multi_objective_aggregation {
        "sum_then_normalize" => Aggregation::SumThenNormalize,
        "normalize_then_sum" => Aggregation::NormalizeThenSum,
        other => return Err(invalid("multi_objective_aggregation", format!("must be 'sum_then_normalize' or 'normalize_then_sum', got {other:?}"))),
    };
    let r = floats("rewards_per_func", rewards_per_func)?;
    let shape = r.shape();
    if shape.len() != 2 || shape[0] == 0 {
        return Err(invalid("rewards_per_func", format!("must be 2-D [N, n_funcs] with N > 0, got shape {shape:?}")));
    }
    if shape[1] != reward_weights.len() {
        return Err(invalid("reward_weights", format!("must hold {} weights, one per reward function, got {}", shape[1], reward_weights.len())));
    }
    with_floats!(r, |rr: F| {
        let out = detach(py, || multi_reward::group_normalize(rr, &reward_weights, num_generations, scale, aggregation))?;
        Ok((out.advantages.into_pyarray(py).into_any(), out.std_zero.into_pyarray(py).into_any()))
    })
}
