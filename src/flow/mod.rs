//! Flows: symmetric keys, per-direction counters, TCP state, idle timeouts.
pub mod community_id;
