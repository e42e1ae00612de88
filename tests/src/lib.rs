//! Shared helpers of the workspace-level tests.

pub mod conformance;
