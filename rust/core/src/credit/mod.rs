//! Credit assignment: the advantage estimators of RL fine-tuning and what they are built from.
//!
//! - [`scan`]: GAE and discounted returns (reverse scans along each response);
//! - [`outcome`]: outcome-reward estimators with a group baseline (GRPO, Dr.GRPO, RLOO,
//!   REINFORCE++-baseline), broadcast over tokens;
//! - [`multi_reward`]: TRL's weighted multi-reward group normalisation in one kernel;
//! - [`whiten`]: masked moments and whitening over a token batch;
//! - [`kl`]: per-token KL penalty estimators; [`token_reward`]: scalar reward plus KL per token;
//! - [`groups`]: group statistics keyed by arbitrary labels.

pub mod groups;
pub mod kl;
pub mod multi_reward;
pub mod outcome;
pub mod scan;
pub mod token_reward;
pub mod whiten;
