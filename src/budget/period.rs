//! Rolling budget periods keyed by their start, so a late reset can never erase a new period.

use chrono::{DateTime, Datelike, Duration, Utc};

/// The key (start date) of the period containing `now`.
pub fn period_key(period: &str, now: DateTime<Utc>) -> Option<String> {
    let d = now.date_naive();
    match period {
        "daily" => Some(d.format("%Y-%m-%d").to_string()),
        "weekly" => {
            let start = d - Duration::days(d.weekday().num_days_from_monday() as i64);
            Some(start.format("%Y-%m-%d").to_string())
        }
        "monthly" => Some(format!("{:04}-{:02}-01", d.year(), d.month())),
        _ => None,
    }
}

pub fn valid_period(p: &str) -> bool {
    matches!(p, "daily" | "weekly" | "monthly")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_are_period_starts() {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 15, 0, 0).unwrap(); // a Thursday
        assert_eq!(period_key("daily", t).unwrap(), "2026-11-26");
        assert_eq!(period_key("weekly", t).unwrap(), "2026-11-23");
        assert_eq!(period_key("monthly", t).unwrap(), "2026-11-01");
        assert!(period_key("yearly", t).is_none());
    }
}
