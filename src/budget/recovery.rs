//! Crash recovery of the budget: what dead holders held is settled by `store/recovery.rs`
//! (re-exported here); who is dead is the engine's call (`engine::lock::holder_dead`).

pub use crate::store::recovery::{ESTIMATED, Holder, Recovered, holders, recover_stale};
