//! kmsdoctor: why a KMS key policy locks people out, who can still get back in, and how.
//!
//! Data flows one way: `cli` (flags) -> `config` (resolved settings) -> `evidence` (all I/O)
//! -> `analysis` (pure) -> `report` (rendering).

pub mod analysis;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod evidence;
pub mod report;
