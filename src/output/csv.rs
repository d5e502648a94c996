//! The inventory as CSV, for a biomed team's spreadsheet: one row a device,
//! the columns they ask for, RFC 4180 quoting.
//!
//! Values come from the devices' own traffic, which an attacker on the
//! network can choose (a DHCP host name `=HYPERLINK(…)`): a cell that a
//! spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a
//! tab or a carriage return) is written with a leading `'`, as OWASP
//! advises for CSV injection.

use std::io::{self, Write};

use crate::device::DeviceRecord;

/// The header row.
pub const COLUMNS: &[&str] = &[
    "id",
    "type",
    "type_confidence",
    "modality",
    "vendor",
    "vendor_short",
    "model",
    "software_version",
    "serial_number",
    "udi",
    "hostname",
    "ipv4",
    "ipv6",
    "mac",
    "first_seen",
    "last_seen",
    "protocols",
    "roles",
    "os",
    "os_end_of_life",
    "exposures",
    "risk_score",
    "risk_level",
];

/// Facts that name a device's host, best first.
const HOSTNAME_FACTS: &[(&str, &str)] = &[
    ("dhcp", "hostname"),
    ("dhcpv6", "fqdn"),
    ("dhcp", "fqdn"),
    ("mdns", "hostname"),
    ("llmnr", "hostname"),
    ("netbios", "name"),
    ("lldp", "system_name"),
    ("cdp", "device_id"),
    ("dns", "name"),
];
const MODEL_FACTS: &[(&str, &str)] = &[("dicom", "model"), ("cdp", "platform")];
const SOFTWARE_FACTS: &[(&str, &str)] = &[
    ("dicom", "software_versions"),
    ("cdp", "software_version"),
    ("dicom", "implementation_version"),
];
const SERIAL_FACTS: &[(&str, &str)] = &[("dicom", "serial_number")];
const UDI_FACTS: &[(&str, &str)] = &[("hl7", "device_id")];

/// Words at the end of a registered company name that say nothing of the
/// vendor.
const COMPANY_SUFFIXES: &[&str] = &[
    "inc",
    "inc.",
    "ltd",
    "ltd.",
    "llc",
    "gmbh",
    "ag",
    "co",
    "co.",
    "corp",
    "corp.",
    "corporation",
    "limited",
    "international",
    "s.a.",
    "sa",
    "b.v.",
    "bv",
    "kg",
    "kgaa",
    "aa",
    "&",
    "company",
    "plc",
    "oy",
    "ab",
    "as",
    "nv",
    "n.v.",
    "spa",
    "s.p.a.",
];

/// The vendor as people say it: the registry's name to its first comma,
/// parenthesis or spaced dash, without company suffixes (`Baxter
/// International Inc` → `Baxter`).
pub fn short_vendor(registered: &str) -> String {
    let head = registered.split(" - ").next().unwrap_or(registered);
    let head = head.split([',', '(']).next().unwrap_or(head);
    let mut words: Vec<&str> = head.split_whitespace().collect();
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| COMPANY_SUFFIXES.contains(&w.to_ascii_lowercase().as_str()))
    {
        words.pop();
    }
    words.join(" ")
}

fn first<'a>(device: &'a DeviceRecord, facts: &[(&str, &str)]) -> &'a str {
    facts
        .iter()
        .find_map(|(protocol, field)| {
            device
                .identity
                .get(*protocol)
                .and_then(|fields| fields.get(*field))
                .and_then(|values| values.first())
        })
        .map_or("", String::as_str)
}

/// One cell, quoted as RFC 4180 wants and defused as a formula.
fn cell(out: &mut impl Write, value: &str) -> io::Result<()> {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = formula || value.contains([',', '"', '\n', '\r']);
    if !quoted {
        return out.write_all(value.as_bytes());
    }
    out.write_all(b"\"")?;
    if formula {
        out.write_all(b"'")?;
    }
    out.write_all(value.replace('"', "\"\"").as_bytes())?;
    out.write_all(b"\"")
}

/// Writes `devices` as CSV: the header, then a row a device.
pub fn write(out: &mut impl Write, devices: &[DeviceRecord]) -> io::Result<()> {
    for (i, name) in COLUMNS.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        cell(out, name)?;
    }
    out.write_all(b"\r\n")?;
    for device in devices {
        let (v4, v6): (Vec<_>, Vec<_>) = device.ips.iter().partition(|ip| ip.is_ipv4());
        let join = |ips: Vec<&std::net::IpAddr>| {
            ips.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let row = [
            device.id.clone(),
            device.device_type.name.to_owned(),
            device.device_type.confidence.to_owned(),
            device.device_type.modality.clone().unwrap_or_default(),
            device.vendor.unwrap_or("").to_owned(),
            device.vendor.map(short_vendor).unwrap_or_default(),
            first(device, MODEL_FACTS).to_owned(),
            first(device, SOFTWARE_FACTS).to_owned(),
            first(device, SERIAL_FACTS).to_owned(),
            first(device, UDI_FACTS).to_owned(),
            first(device, HOSTNAME_FACTS).to_owned(),
            join(v4),
            join(v6),
            device.mac.clone().unwrap_or_default(),
            device.first_seen.to_string(),
            device
                .traffic
                .as_ref()
                .map(|t| t.last_seen.to_string())
                .unwrap_or_default(),
            device
                .identity
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            device.roles.join(" "),
            device
                .os
                .as_ref()
                .map(|os| match &os.version {
                    Some(version) => format!("{} {version}", os.family.as_str()),
                    None => os.family.as_str().to_owned(),
                })
                .unwrap_or_default(),
            device
                .os
                .as_ref()
                .and_then(|os| os.end_of_life.as_ref())
                .map(|eol| eol.date.to_string())
                .unwrap_or_default(),
            {
                let mut names: Vec<&str> = device.exposures.iter().map(|e| e.exposure).collect();
                names.sort_unstable();
                names.dedup();
                names.join(" ")
            },
            device.risk.score.to_string(),
            device.risk.level.as_str().to_owned(),
        ];
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            cell(out, value)?;
        }
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: &str) -> String {
        let mut out = Vec::new();
        cell(&mut out, value).expect("write");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn cells_are_quoted_as_rfc_4180_wants() {
        assert_eq!(written("plain"), "plain");
        assert_eq!(written("a,b"), "\"a,b\"");
        assert_eq!(written("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(written("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_defused() {
        assert_eq!(written("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(written("+1"), "\"'+1\"");
        assert_eq!(written("@SUM(A1)"), "\"'@SUM(A1)\"");
    }

    #[test]
    fn vendors_are_shortened_to_what_people_say() {
        assert_eq!(short_vendor("Baxter International Inc"), "Baxter");
        assert_eq!(short_vendor("GE Healthcare"), "GE Healthcare");
        assert_eq!(short_vendor("Cisco Systems, Inc"), "Cisco Systems");
        assert_eq!(
            short_vendor("Philips Medical Systems - Cardiac and Monitoring Systems (CM"),
            "Philips Medical Systems"
        );
        assert_eq!(short_vendor("Drägerwerk AG & Co. KG aA"), "Drägerwerk");
        assert_eq!(short_vendor("Dell Inc."), "Dell");
        assert_eq!(short_vendor("Hewlett-Packard Company"), "Hewlett-Packard");
    }
}
