//! rewardlab-core: the hot paths of rewardlab in plain Rust (no Python types).
//!
//! One module per capability, as in the Python package:
//! - [`credit`]: advantage estimators (GAE, GRPO, RLOO, REINFORCE++), whitening, KL penalties,
//!   token rewards: the kernels behind the verl / OpenRLHF / TRL drop-ins;
//! - [`redistribution`]: RREDCoT segmentation, importance-sampling values and redistribution;
//! - [`ensemble`]: aggregation of an ensemble's scores with their spread;
//! - [`shaping`]: Stackelberg reward shaping and best-of-N selections;
//! - [`gate`]: the dual-confidence gate of fast-slow scoring;
//! - [`diagnostics`]: reward variance and on-policy agreement per prompt group.
//!
//! The machinery they share: [`layout`] (padded `[B, T]` or ragged offsets), [`mask`] (masks
//! read in place), [`real`] (generic over `f32`/`f64`), [`simd`], [`parallel`], [`uninit`],
//! [`retain`] (the allocator) and [`error`]: every kernel returns a [`CoreError`] naming the bad
//! argument instead of panicking.

pub mod credit;
pub mod diagnostics;
pub mod ensemble;
pub mod gate;
pub mod redistribution;
pub mod shaping;

pub mod error;
pub mod layout;
pub mod mask;
pub mod parallel;
pub mod real;
pub mod retain;
pub mod simd;
pub mod uninit;

pub use error::{CoreError, Result};
pub use layout::Layout;
