//! Application protocols (DICOM, HL7 v2 over MLLP, MQTT).
//!
//! Parsers here are fed in-order stream bytes by the worker that owns the
//! flow and report what they learn as observations; the worker's
//! [`crate::decode::Decoded::payload`] gives them the transport payload of
//! each packet without a copy.
