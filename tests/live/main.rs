//! The tests that talk to AWS protocol peers on loopback, in one binary: `mocks`
//! (aws-smithy-mocks: CloudTrail paging, throttling, errors) and `moto` (a moto server that
//! `scripts/test` starts).

mod mocks;
mod moto;
