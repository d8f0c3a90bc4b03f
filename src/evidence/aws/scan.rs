//! `kmsdoctor scan`, the AWS half: every customer-managed key of a region, with its
//! metadata and its policy when readable. Read-only (ListKeys, DescribeKey, GetKeyPolicy).
//! KMS's request quotas are per account, region and operation, and shared with every other
//! caller: each operation is paced by its own token bucket, well below them. One failure is
//! reported with its key (or region), never an abort.

use std::time::Duration;

use tokio::time::Instant;

use super::{AwsFailure, Clients};
use crate::analysis::lockout::KeyProperties;

/// One key as KMS described it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScannedKey {
    pub arn: String,
    pub region: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`...; `None` when DescribeKey failed.
    pub key_state: Option<String>,
    /// `CUSTOMER` or `AWS`.
    pub key_manager: Option<String>,
    pub properties: Option<KeyProperties>,
    /// The key policy, or GetKeyPolicy's error (AccessDenied: a lockout candidate).
    pub policy: Result<String, String>,
    /// DescribeKey's error, when it failed.
    pub describe_error: Option<String>,
}

/// A region's keys, and what failed at the region level (ListKeys).
#[derive(Debug, Clone, Default)]
pub struct RegionScan {
    pub region: String,
    pub keys: Vec<ScannedKey>,
    pub problems: Vec<String>,
    pub calls: u32,
}

/// A token bucket of one token: at most one call every `interval`.
#[derive(Debug)]
pub struct Pace {
    interval: Duration,
    next: Option<Instant>,
}

impl Pace {
    /// `per_second` calls a second (0 is taken as 1).
    pub fn new(per_second: u32) -> Pace {
        Pace {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: None,
        }
    }

    /// Waits for the next slot.
    pub async fn take(&mut self) {
        let now = Instant::now();
        if let Some(at) = self.next.filter(|at| *at > now) {
            tokio::time::sleep(at - now).await;
        }
        self.next = Some(Instant::now().max(self.next.unwrap_or(now)) + self.interval);
    }
}

fn text((_, msg): AwsFailure) -> String {
    msg
}

/// Lists and reads every key of the clients' region, `per_second` calls a second for each
/// operation. `progress(done, total)` after each key.
pub async fn scan_region(
    c: &Clients,
    per_second: u32,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> RegionScan {
    let mut out = RegionScan {
        region: c.region.clone(),
        ..RegionScan::default()
    };
    let (mut list, mut describe, mut get) = (
        Pace::new(per_second),
        Pace::new(per_second),
        Pace::new(per_second),
    );
    let mut arns: Vec<String> = Vec::new();
    let mut marker: Option<String> = None;
    // At most 10,000 pages of 1,000 keys: far above KMS's keys per region.
    for _ in 0..10_000 {
        list.take().await;
        out.calls += 1;
        match c
            .kms
            .list_keys()
            .limit(1000)
            .set_marker(marker.clone())
            .send()
            .await
        {
            Ok(page) => {
                arns.extend(
                    page.keys()
                        .iter()
                        .filter_map(|k| k.key_arn().map(str::to_string)),
                );
                match page.next_marker() {
                    Some(m) if page.truncated() && marker.as_deref() != Some(m) => {
                        marker = Some(m.to_string())
                    }
                    _ => break,
                }
            }
            Err(e) => {
                out.problems.push(format!(
                    "kms ListKeys in {} failed ({}): keys of this region were not scanned",
                    c.region,
                    c.describe(&e).1
                ));
                break;
            }
        }
    }
    let total = arns.len();
    for (i, arn) in arns.into_iter().enumerate() {
        describe.take().await;
        out.calls += 1;
        let mut key = ScannedKey {
            arn: arn.clone(),
            region: c.region.clone(),
            key_state: None,
            key_manager: None,
            properties: None,
            policy: Err(String::new()),
            describe_error: None,
        };
        match c.kms.describe_key().key_id(&arn).send().await {
            Ok(d) => {
                if let Some(m) = d.key_metadata() {
                    key.key_state = m.key_state().map(|s| s.as_str().to_string());
                    key.key_manager = m.key_manager().map(|s| s.as_str().to_string());
                    key.properties = Some(super::kms::properties_of(m));
                }
            }
            Err(e) => key.describe_error = Some(c.describe(&e).1),
        }
        // AWS managed keys are AWS's to manage: their policies are not scanned.
        if key.key_manager.as_deref() != Some("AWS") {
            get.take().await;
            out.calls += 1;
            key.policy = super::get_key_policy(c, &arn).await.map_err(text);
        }
        out.keys.push(key);
        progress(&c.region, i + 1, total);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_spaces_calls() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut p = Pace::new(50);
        let start = std::time::Instant::now();
        rt.block_on(async {
            for _ in 0..6 {
                p.take().await;
            }
        });
        // Six calls at 50 a second: the sixth no sooner than 100 ms after the first.
        assert!(
            start.elapsed() >= Duration::from_millis(99),
            "{:?}",
            start.elapsed()
        );
    }
}
