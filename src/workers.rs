//! Work on all cores: a list of independent jobs (files to read and check), taken by as
//! many threads as there are cores, results kept in the list's order so that output does not
//! depend on which thread finished first. A job that fails stops the handing out of more
//! work; the first failure in list order is the one reported.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `job` on every item, on up to `max_workers` threads (the cores, when `None`), and
/// returns the results in order, or the first error in order.
pub fn map_ordered<T: Sync, R: Send, E: Send>(
    items: &[T],
    max_workers: Option<usize>,
    job: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = max_workers
        .unwrap_or(cores)
        .min(cores)
        .min(items.len())
        .max(1);
    if workers == 1 {
        return items.iter().map(&job).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<R, E>)>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else {
                    break;
                };
                let r = job(item);
                let failed = r.is_err();
                if let Ok(mut v) = results.lock() {
                    v.push((i, r));
                }
                if failed {
                    next.store(items.len(), Ordering::Relaxed);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_reports_the_first_error() {
        let items: Vec<u32> = (0..200).collect();
        let out = map_ordered(&items, None, |i| Ok::<u32, String>(i * 2)).unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let e = map_ordered(&items, None, |i| if *i >= 50 { Err(*i) } else { Ok(*i) });
        assert_eq!(e.unwrap_err(), 50);
    }
}
