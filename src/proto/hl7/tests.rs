//! Tests for the HL7/MLLP parser.
