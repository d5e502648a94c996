//! IEEE OUI registry.
