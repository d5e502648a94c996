//! Community ID v1.
