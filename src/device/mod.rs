//! Devices: local endpoints keyed by MAC or IP, with vendor and identity.
pub mod oui;
