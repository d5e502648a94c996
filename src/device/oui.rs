//! IEEE OUI registry.
// (being written: vendor lookup)
pub fn vendor(_mac: [u8; 6]) -> Option<&'static str> {
    None
}
