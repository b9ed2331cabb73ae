//! Owners waiting for headroom at a shared level (team or org): who they are and how long a
//! registration holds. The rows are kept by `store/waiters.rs`.

/// How long a registration holds without being renewed (wall clock: shared by processes).
pub const HOLD_MS: i64 = 3_000;

/// The waiter name of a run's lease.
pub fn lease_owner(lease_id: i64) -> String {
    format!("lease:{lease_id}")
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
