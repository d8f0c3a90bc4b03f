//! Pure analysis: parsing policies, evaluating requests, diagnosing. No I/O happens here;
//! every function takes data and returns data, so all of it is testable without AWS.

pub mod cfn;
pub mod check;
pub mod condition;
pub mod context;
pub mod diagnose;
pub mod eval;
pub mod kms;
pub mod locate;
pub mod pattern;
pub mod plan;
pub mod policy;
pub mod principal;
pub mod repair;
pub mod trail;
pub mod variables;
