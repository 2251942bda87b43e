//! `createdAt` timestamps: milliseconds since the epoch as `2026-12-02T05:38:17.466Z`, exactly
//! what JavaScript's `Date.prototype.toISOString` writes (years 0–9999), computed here rather
//! than through a `Date` object and a string crossing from JavaScript on every push.

/// The ISO 8601 UTC text of `epoch_ms`, as `toISOString` writes it.
pub fn iso_utc(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(86_400_000);
    let ms_of_day = epoch_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000
    )
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
// `day` is 1..=31 and `month` 1..=12 by construction: the casts cannot truncate or change sign
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1_796_185_518_951), "2026-12-02T04:25:18.951Z");
        assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_utc(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
        assert_eq!(iso_utc(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn created_at_is_written_as_to_iso_string_writes_it() {
        use chrono::{Datelike, TimeZone, Timelike, Utc};
        let mut ms: i64 = -62_135_596_800_000; // 0001-01-01
        while ms < 253_402_300_800_000 {
            // up to 9999-12-31
            let t = Utc.timestamp_millis_opt(ms).unwrap();
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.timestamp_subsec_millis()
            );
            assert_eq!(iso_utc(ms), expected, "{ms}");
            ms += 7_919_993_123; // about 92 days and some hours, minutes, seconds and ms
        }
    }
}
