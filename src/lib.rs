//! medtap: a passive monitor for medical-device networks.
//!
//! Packets flow one way: [`capture`] reads them from libpcap, [`decode`] slices
//! them without copying, [`pipeline`] hashes each flow to a worker shard that
//! owns it ([`flow`]), workers report what they observe as [`event`]s, and the
//! merge stage puts those in packet-time order, keeps the [`device`] table and
//! hands JSON lines to the [`output`] sinks.
#![forbid(unsafe_code)]

pub mod alert;
pub mod baseline;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod device;
pub mod event;
pub mod files;
pub mod fingerprint;
pub mod flow;
pub mod learned;
pub mod output;
pub mod pipeline;
pub mod policy;
pub mod proto;
pub mod reassembly;
pub mod service;
pub mod time;
