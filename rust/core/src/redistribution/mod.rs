//! RREDCoT, segment-level reward redistribution for chain-of-thought responses.
//!
//! - [`segment`]: responses cut into reasoning steps (delimiters, high-entropy forking tokens),
//!   as [`segments::Segments`];
//! - [`redistribute`]: importance-sampling state values, return-equivalent segment rewards and
//!   their spreading onto tokens.

pub mod redistribute;
pub mod segment;
pub mod segments;
