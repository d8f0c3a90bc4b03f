//! Pure analysis: parsing policies, evaluating requests, diagnosing. No I/O happens here;
//! every function takes data and returns data, so all of it is testable without AWS.

pub mod chain;
pub mod check;
pub mod condition;
pub mod condition_keys;
pub mod context;
pub mod escape;
pub mod eval;
pub mod events;
pub mod fix;
pub mod guard;
pub mod json;
pub mod kms;
pub mod locate;
pub mod lockout;
pub mod pattern;
pub mod plan;
pub mod policy;
pub mod principal;
pub mod principal_class;
pub mod reference;
pub mod repair;
pub mod rules;
pub mod satisfiability;
pub mod scan;
pub mod shell;
pub mod variables;
