//! Failure throttling over several windows (SPEC §4 rule 2, §8.9).

use crate::config::Window;
use crate::contract::time::Timestamp;

/// A full window: which list filled it and how long until it has room again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full {
    /// Seconds until the count drops below the limit.
    pub retry_after: u64,
}

/// The largest `retry_after` among the full windows of one failure list, if any is full.
///
/// A failure at `t` is in a window of `w` seconds iff `now - w < t <= now`; a window is full
/// when its count reaches the limit; it has room again once `sorted[n - limit]` leaves it.
pub fn check(windows: &[Window], failures: &[Timestamp], now: u64) -> Option<Full> {
    if windows.is_empty() || failures.is_empty() {
        return None;
    }
    let mut worst: Option<u64> = None;
    // Most lists are short; sort a copy only when some window could be full.
    let mut in_any: Vec<u64> = Vec::new();
    for w in windows {
        let lo = now.saturating_sub(w.window_seconds);
        let count = failures
            .iter()
            .filter(|t| t.0 <= now && (now < w.window_seconds || t.0 > lo))
            .count();
        let limit = w.limit as usize;
        if count < limit || limit == 0 {
            continue;
        }
        if in_any.is_empty() {
            in_any = failures.iter().map(|t| t.0).filter(|&t| t <= now).collect();
            in_any.sort_unstable();
        }
        // The in-window failures are the newest `count` of the sorted list.
        let start = in_any.len() - count;
        let oldest_to_leave = in_any.get(start + (count - limit)).copied().unwrap_or(now);
        let retry = oldest_to_leave
            .saturating_add(w.window_seconds)
            .saturating_sub(now);
        worst = Some(worst.map_or(retry, |r| r.max(retry)));
    }
    worst.map(|retry_after| Full { retry_after })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(v: &[u64]) -> Vec<Timestamp> {
        v.iter().copied().map(Timestamp).collect()
    }

    #[test]
    fn five_in_five_minutes() {
        let w = [Window {
            limit: 5,
            window_seconds: 300,
        }];
        let f = ts(&[990, 991, 992, 993, 994]);
        assert_eq!(check(&w, &f, 1000), Some(Full { retry_after: 290 }));
        assert_eq!(check(&w, &f, 1289), Some(Full { retry_after: 1 }));
        assert_eq!(
            check(&w, &f, 1290),
            None,
            "t = now - w is outside the window"
        );
        assert_eq!(check(&w, &ts(&[991, 992, 993, 994]), 1000), None);
        assert_eq!(
            check(&w, &ts(&[1001, 991, 992, 993, 994]), 1000),
            None,
            "future failures do not count"
        );
    }

    #[test]
    fn largest_retry_wins() {
        let w = [
            Window {
                limit: 2,
                window_seconds: 60,
            },
            Window {
                limit: 3,
                window_seconds: 3600,
            },
        ];
        let f = ts(&[100, 3550, 3590]);
        assert_eq!(check(&w, &f, 3600), Some(Full { retry_after: 100 }));
    }
}
