//! Which model serves a call: breakers (health), candidate filtering and ranking.

pub mod breaker;
pub mod explain;
pub mod health;
pub mod learning;
pub mod policy;
pub mod router;

pub use breaker::{Admission, Breaker, BreakerState, Signal, Transition};
pub use health::Health;
