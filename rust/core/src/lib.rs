//! rewardlab-core: the hot paths of rewardlab in plain Rust (no Python types).
//!
//! Token batches are slices plus a [`layout::Layout`] (padded `[B, T]` or ragged offsets);
//! masks are read in place through [`mask::MaskElem`]; every kernel is generic over `f32`/`f64`
//! and returns a [`error::CoreError`] naming the bad argument instead of panicking.

pub mod diagnostics;
pub mod ensemble;
pub mod gate;
pub mod error;
pub mod groups;
pub mod kl;
pub mod layout;
pub mod mask;
pub mod multi_reward;
pub mod outcome;
pub mod parallel;
pub mod real;
pub mod redistribute;
pub mod retain;
pub mod scan;
pub mod segment;
pub mod shaping;
pub mod simd;
pub mod token_reward;
pub mod uninit;
pub mod whiten;

pub use error::{CoreError, Result};
pub use layout::Layout;
