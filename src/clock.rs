//! Timestamps are stored as RFC 3339 UTC text with second precision, so they
//! sort as strings and read well in the database.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now, as stored in the database (`2026-11-26T15:34:00Z`).
/// The RFC 3339 time `days` days ago, to compare with stored stamps.
pub fn days_ago(days: i64) -> String {
    let then = OffsetDateTime::now_utc() - time::Duration::days(days);
    then.replace_nanosecond(0)
        .unwrap_or(then)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

pub fn now() -> String {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    now.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// A stored timestamp shown to people: `2026-11-26 15:34 UTC`.
pub fn display(stamp: &str) -> String {
    match (stamp.get(..10), stamp.get(11..16)) {
        (Some(date), Some(clock)) => format!("{date} {clock} UTC"),
        _ => stamp.to_owned(),
    }
}

/// Just the date of a stored timestamp: `2026-11-26`.
pub fn date(stamp: &str) -> &str {
    stamp.get(..10).unwrap_or(stamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_rfc3339_with_seconds() {
        let stamp = now();
        assert_eq!(stamp.len(), 20, "{stamp}");
        assert!(stamp.ends_with('Z'));
    }

    #[test]
    fn display_shows_date_and_minutes() {
        assert_eq!(display("2026-11-26T15:34:09Z"), "2026-11-26 15:34 UTC");
        assert_eq!(date("2026-11-26T15:34:09Z"), "2026-11-26");
    }
}
