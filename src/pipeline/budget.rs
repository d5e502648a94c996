//! One memory budget (`--memcap`), shared out between the tables that grow
//! with what the network sends.
//!
//! medtap's memory grows with three things an attacker or a broken stack
//! controls: connections (flows, their parsers' pending bytes, segments held
//! out of order), senders (devices, their addresses and traffic records),
//! and the queues between threads. Each has a hard bound derived here from
//! one number, so an operator sizes one thing:
//!
//! | share | of the budget | bounds |
//! | --- | --- | --- |
//! | connections | [`FLOWS_PERCENT`] %, split evenly between workers | half for the flow table (as many flows as [`crate::flow::flows_within`] that half), half for what their application layers hold: parser state, pending bytes, segments held out of order (at most [`HELD_PERCENT_OF_FLOWS`] % of the share); flows evicted at either bound, cheapest to lose first (see [`crate::flow`]) |
//! | devices | [`DEVICES_PERCENT`] % | devices at [`DEVICE_BYTES`] each (evicted, transient first, see [`crate::device`]), endpoint traffic records at [`TRAFFIC_ENTRY_BYTES`], router candidates |
//! | rates | [`RATES_PERCENT`] %, split evenly between workers | endpoint-minute rate entries at [`RATE_ENTRY_BYTES`] each (past it, new endpoints' traffic is not binned, and counted) |
//! | the rest | what is left | queues between threads (bounded by count: [`super::WORKER_QUEUE_BATCHES`], [`super::REPORT_QUEUE_PER_WORKER`]), per-second protocol counts, alert suppression, detector tables (each bounded by its own constant) |
//!
//! What the rest and the process itself (code, libpcap's buffers, thread
//! stacks, the OUI registry) cost does not grow with traffic: it is the
//! documented constant of `docs/performance.md` that RSS may exceed the
//! budget by.

use crate::flow::flows_within;

/// Default `--memcap`: 1 GiB.
pub const DEFAULT_MEMCAP: u64 = 1 << 30;
/// The smallest `--memcap` accepted: below this the shares hold too few
/// flows and devices for a ward.
pub const MIN_MEMCAP: u64 = 64 << 20;
/// Percent of the budget for connections.
pub const FLOWS_PERCENT: u64 = 50;
/// Percent of the connections' share that segments held out of order may
/// take.
pub const HELD_PERCENT_OF_FLOWS: u64 = 25;
/// Percent of the budget for devices.
pub const DEVICES_PERCENT: u64 = 35;
/// Percent of the budget for the workers' per-minute rate entries.
pub const RATES_PERCENT: u64 = 5;
/// What one endpoint-minute rate entry costs, in bytes: its slot in the
/// worker's table and its way to the detectors when its minute closes.
pub const RATE_ENTRY_BYTES: u64 = 256;
/// What one device costs, in bytes: its record and baseline in the table,
/// its address bindings and the registry's watch of its MAC, with the
/// allocator's share when devices come and go (measured: 2.2 KB a device
/// in a table that only grows, 3.4 KB under a flood that evicts; see
/// `bench/memory.sh`).
pub const DEVICE_BYTES: u64 = 3072;
/// What one endpoint traffic record costs, in bytes.
pub const TRAFFIC_ENTRY_BYTES: u64 = 128;
/// Endpoint traffic records allowed per device: a device's own addresses
/// and the outside peers it talks to.
pub const TRAFFIC_ENTRIES_PER_DEVICE: u64 = 4;
/// Router candidates (MACs watched for sending for several addresses)
/// allowed per device.
pub const GATEWAY_CANDIDATES_PER_DEVICE: u64 = 1;

/// What a budget allows each table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    /// Bytes one worker's flows' application layers may be charged.
    pub flow_bytes_per_worker: usize,
    /// Flows one worker tracks at most (also bounded by `--max-flows`).
    pub flows_per_worker: usize,
    /// Out-of-order bytes one worker holds at most.
    pub held_bytes_per_worker: usize,
    /// Endpoint-minute rate entries one worker holds at most.
    pub rate_entries_per_worker: usize,
    /// Devices the table holds at most.
    pub devices: usize,
    /// Endpoint traffic records at most.
    pub traffic_entries: usize,
    /// Router candidates at most.
    pub gateway_candidates: usize,
}

impl Shares {
    /// Shares `memcap` bytes out between `workers` workers and the device
    /// table; `max_flows` (`--max-flows`) bounds each worker's flows too.
    pub fn of(memcap: u64, workers: usize, max_flows: usize) -> Shares {
        let workers = workers.max(1) as u64;
        let flow_bytes = memcap / 100 * FLOWS_PERCENT / workers;
        let devices = memcap / 100 * DEVICES_PERCENT
            / (DEVICE_BYTES + TRAFFIC_ENTRIES_PER_DEVICE * TRAFFIC_ENTRY_BYTES);
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Shares {
            flow_bytes_per_worker: size(flow_bytes / 2),
            flows_per_worker: flows_within(size(flow_bytes / 2), super::FLOW_SLOT_BYTES)
                .min(max_flows),
            held_bytes_per_worker: size(flow_bytes / 100 * HELD_PERCENT_OF_FLOWS),
            rate_entries_per_worker: size(
                memcap / 100 * RATES_PERCENT / workers / RATE_ENTRY_BYTES,
            ),
            devices: size(devices),
            traffic_entries: size(devices * TRAFFIC_ENTRIES_PER_DEVICE),
            gateway_candidates: size(devices * GATEWAY_CANDIDATES_PER_DEVICE),
        }
    }
}

/// Reads a size in bytes: a number with an optional binary unit (`K`, `M`,
/// `G`, `T`, optionally followed by `i`, `B` or `iB`, any case): `256M`,
/// `1GiB`, `1073741824`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 256M, 1G)"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .or_else(|| unit.strip_suffix('i'))
        .unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("{text:?}: unknown unit (use K, M, G or T)")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// [`parse_size`], for `--memcap`: at least [`MIN_MEMCAP`].
pub fn parse_memcap(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text)?;
    if bytes < MIN_MEMCAP {
        return Err(format!(
            "{text:?} is below the smallest budget, {} MiB",
            MIN_MEMCAP >> 20
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_binary_units() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("512 MB"), Ok(512 << 20));
        assert_eq!(parse_size("64Ki"), Ok(64 << 10));
        assert_eq!(parse_size("1073741824"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("1.5G").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("-1G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn a_memcap_below_the_minimum_is_refused() {
        assert!(parse_memcap("63M").is_err());
        assert_eq!(parse_memcap("64M"), Ok(MIN_MEMCAP));
    }

    #[test]
    fn shares_stay_within_the_budget() {
        for memcap in [MIN_MEMCAP, 256 << 20, DEFAULT_MEMCAP, 16 << 30] {
            for workers in [1, 2, 7] {
                let s = Shares::of(memcap, workers, usize::MAX);
                let flows = (s.flow_bytes_per_worker * 2 * workers) as u64;
                let devices = s.devices as u64 * DEVICE_BYTES
                    + s.traffic_entries as u64 * TRAFFIC_ENTRY_BYTES;
                let rates = (s.rate_entries_per_worker * workers) as u64 * RATE_ENTRY_BYTES;
                assert!(flows + devices + rates <= memcap, "{memcap} {workers}");
                assert!(s.held_bytes_per_worker < s.flow_bytes_per_worker);
                assert!(
                    s.flows_per_worker * crate::pipeline::FLOW_SLOT_BYTES < s.flow_bytes_per_worker
                );
            }
        }
    }

    #[test]
    fn max_flows_bounds_the_flow_share() {
        assert_eq!(Shares::of(DEFAULT_MEMCAP, 1, 1000).flows_per_worker, 1000);
    }
}
