//! Community ID v1.
// (being written)
pub fn community_id_v1(
    _seed: u16,
    _proto: u8,
    _src: std::net::IpAddr,
    _dst: std::net::IpAddr,
    _sp: u16,
    _dp: u16,
) -> String {
    String::new()
}
pub fn icmp_port_equivalents(t: u8, c: u8, _v6: bool) -> (u16, u16, bool) {
    (t.into(), c.into(), true)
}
