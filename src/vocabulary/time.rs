//! Dates and times as people in Montpellier read them: Europe/Paris,
//! « 26/11/2026 à 15 h 00 ». Stored and machine-read times stay UTC.

use chrono::{DateTime, Utc};
use chrono_tz::Europe::Paris;

/// « 26/11/2026 à 15 h 00 » (Paris time, summer time included).
pub fn date_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris)
        .format("%d/%m/%Y à %H h %M")
        .to_string()
}

/// « 26/11/2026 » (the day in Paris).
pub fn date(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris).format("%d/%m/%Y").to_string()
}

/// « 26/11/2026 15:00 » in Paris time: what a spreadsheet reads as a date
/// and time (CSV exports).
pub fn spreadsheet(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// What the request page says while approval waits for the objection
/// window: « L'approbation sera possible le 28/11/2026 à 15 h 00 (heure de
/// Paris), dans 48 h. » Hours are rounded up, as in the refusal message.
pub fn approval_wait(now: DateTime<Utc>, approvable_at: DateTime<Utc>) -> String {
    format!(
        "L'approbation sera possible le {} (heure de Paris), dans {} h.",
        date_time(approvable_at),
        crate::domain::hours_left(now, approvable_at)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_wait_before_approval_is_said_in_paris_time_and_whole_hours() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 28, 13, 30, 0).unwrap();
        assert_eq!(
            approval_wait(now, at),
            "L'approbation sera possible le 28/11/2026 à 14 h 30 (heure de Paris), dans 48 h."
        );
        let soon = Utc.with_ymd_and_hms(2026, 11, 26, 14, 10, 0).unwrap();
        assert!(approval_wait(now, soon).ends_with("dans 1 h."));
    }

    #[test]
    fn winter_is_one_hour_ahead_of_utc() {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap();
        assert_eq!(date_time(at), "26/11/2026 à 15 h 00");
        assert_eq!(spreadsheet(at), "26/11/2026 15:00");
    }

    #[test]
    fn summer_is_two_hours_ahead_and_the_day_follows_paris() {
        let at = Utc.with_ymd_and_hms(2026, 6, 30, 22, 30, 0).unwrap();
        assert_eq!(date_time(at), "01/07/2026 à 00 h 30");
        assert_eq!(date(at), "01/07/2026");
    }

    #[test]
    fn the_change_to_summer_time_is_followed() {
        // 29 March 2026, 01:00 UTC: clocks go from 02:00 to 03:00 in Paris.
        let before = Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        assert_eq!(date_time(before), "29/03/2026 à 01 h 59");
        assert_eq!(date_time(after), "29/03/2026 à 03 h 00");
    }
}
