//! Calendar feeds as iCalendar (RFC 5545) text: events in the studio's zone with a VTIMEZONE
//! built from the zone's real transitions over the feed's span, so any client shows the same
//! wall-clock times the studio does.

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// How sure an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Held, not yet confirmed.
    Tentative,
    /// Booked.
    Confirmed,
    /// Called off.
    Cancelled,
}

impl EventStatus {
    fn as_str(self) -> &'static str {
        match self {
            EventStatus::Tentative => "TENTATIVE",
            EventStatus::Confirmed => "CONFIRMED",
            EventStatus::Cancelled => "CANCELLED",
        }
    }
}

/// One appointment in a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    /// Globally unique and stable across feed refreshes.
    pub uid: String,
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Title.
    pub summary: String,
    /// Details.
    pub description: String,
    /// Where.
    pub location: String,
    /// Status.
    pub status: EventStatus,
    /// Revision: bumped by each change, so clients replace their copy.
    pub sequence: i64,
    /// IANA zone its times are shown in (the studio's).
    pub time_zone: String,
    /// Last changed.
    pub updated: Timestamp,
}

/// Escapes a TEXT value (RFC 5545 §3.3.11).
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets (RFC 5545 §3.1) on character boundaries.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

fn utc(t: Timestamp) -> String {
    t.to_zoned_datetime(TimeZone::UTC).strftime("%Y%m%dT%H%M%SZ").to_string()
}

fn offset(o: Offset) -> String {
    let seconds = o.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    if sec == 0 { format!("{sign}{h:02}{m:02}") } else { format!("{sign}{h:02}{m:02}{sec:02}") }
}

/// The VTIMEZONE for `name`, covering `from..=to`: the transition in force at `from` and every
/// one up to `to`, each as its own observance with an explicit onset.
fn vtimezone(out: &mut String, name: &str, tz: &TimeZone, from: Timestamp, to: Timestamp) {
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{}", text(name)));
    let mut transitions: Vec<_> = tz.preceding(from).take(1).collect();
    transitions.extend(tz.following(from).take_while(|t| t.timestamp() <= to));
    if transitions.is_empty() {
        let o = tz.to_offset(from);
        line(out, "BEGIN:STANDARD");
        line(out, "DTSTART:19700101T000000");
        line(out, &format!("TZOFFSETFROM:{}", offset(o)));
        line(out, &format!("TZOFFSETTO:{}", offset(o)));
        line(out, "END:STANDARD");
    }
    for t in transitions {
        let before = tz.to_offset(t.timestamp() - SignedDuration::from_secs(1));
        let kind = if t.dst().is_dst() { "DAYLIGHT" } else { "STANDARD" };
        // The onset is local time as it was just before the change (TZOFFSETFROM).
        let onset =
            t.timestamp().to_zoned_datetime(TimeZone::fixed(before)).strftime("%Y%m%dT%H%M%S").to_string();
        line(out, &format!("BEGIN:{kind}"));
        line(out, &format!("DTSTART:{onset}"));
        line(out, &format!("TZOFFSETFROM:{}", offset(before)));
        line(out, &format!("TZOFFSETTO:{}", offset(t.offset())));
        if !t.abbreviation().is_empty() {
            line(out, &format!("TZNAME:{}", text(t.abbreviation())));
        }
        line(out, &format!("END:{kind}"));
    }
    line(out, "END:VTIMEZONE");
}

/// A date-time property in the zone; in UTC when the local time is ambiguous (the repeated hour
/// of a DST fall-back), since a TZID time there means its first occurrence.
fn zoned_property(out: &mut String, property: &str, t: Timestamp, name: &str, tz: &TimeZone) {
    let local = t.to_zoned_datetime(tz.clone()).datetime();
    let round_trip = tz.to_ambiguous_timestamp(local).compatible().ok();
    if round_trip == Some(t) {
        line(out, &format!("{property};TZID={}:{}", text(name), local.strftime("%Y%m%dT%H%M%S")));
    } else {
        line(out, &format!("{property}:{}", utc(t)));
    }
}

/// A whole feed: `VCALENDAR` with a VTIMEZONE for each zone its events use, and the events.
/// `default_zone` names the calendar's zone (for clients that want one).
pub fn render(calendar_name: &str, default_zone: &str, events: &[CalendarEvent], now: Timestamp) -> String {
    let mut out = String::with_capacity(512 + events.len() * 400);
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Atelier//Bookings//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", text(calendar_name)));
    line(&mut out, &format!("X-WR-TIMEZONE:{}", text(default_zone)));
    let mut zones: Vec<&str> = events.iter().map(|e| e.time_zone.as_str()).collect();
    zones.sort_unstable();
    zones.dedup();
    for zone in &zones {
        let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
        let of_zone = || events.iter().filter(|e| e.time_zone == *zone);
        let from = of_zone().map(|e| e.start).min().unwrap_or(now);
        let to = of_zone().map(|e| e.end).max().unwrap_or(now);
        vtimezone(&mut out, zone, &tz, from, to);
    }
    for event in events {
        let zone_name = event.time_zone.as_str();
        let tz = TimeZone::get(zone_name).unwrap_or(TimeZone::UTC);
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", text(&event.uid)));
        line(&mut out, &format!("DTSTAMP:{}", utc(now)));
        zoned_property(&mut out, "DTSTART", event.start, zone_name, &tz);
        zoned_property(&mut out, "DTEND", event.end, zone_name, &tz);
        line(&mut out, &format!("SUMMARY:{}", text(&event.summary)));
        if !event.description.is_empty() {
            line(&mut out, &format!("DESCRIPTION:{}", text(&event.description)));
        }
        if !event.location.is_empty() {
            line(&mut out, &format!("LOCATION:{}", text(&event.location)));
        }
        line(&mut out, &format!("STATUS:{}", event.status.as_str()));
        line(&mut out, &format!("SEQUENCE:{}", event.sequence.max(0)));
        line(&mut out, &format!("LAST-MODIFIED:{}", utc(event.updated)));
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("instant")
    }

    fn event(start: &str, end: &str) -> CalendarEvent {
        CalendarEvent {
            uid: "b1@atelier".into(),
            start: at(start),
            end: at(end),
            summary: "Cut, colour; and more".into(),
            description:
                "Line one\nLine two with a long tail that goes past the seventy-five octet limit for sure"
                    .into(),
            location: String::new(),
            status: EventStatus::Confirmed,
            sequence: 2,
            time_zone: "Europe/Lisbon".into(),
            updated: at("2026-01-01T00:00:00Z"),
        }
    }

    #[test]
    fn events_are_in_the_zone_with_its_transitions() {
        let feed = render(
            "Rita",
            "Europe/Lisbon",
            &[event("2026-03-24T10:00:00Z", "2026-03-31T11:00:00Z")],
            at("2026-01-01T00:00:00Z"),
        );
        assert!(feed.contains("DTSTART;TZID=Europe/Lisbon:20260324T100000\r\n"), "{feed}");
        assert!(feed.contains("DTEND;TZID=Europe/Lisbon:20260331T120000\r\n"), "summer time: {feed}");
        // The change at 01:00 UTC on 2026-03-29: local 01:00 (WET) becomes 02:00 (WEST).
        assert!(
            feed.contains(
                "BEGIN:DAYLIGHT\r\nDTSTART:20260329T010000\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100\r\n"
            ),
            "{feed}"
        );
        assert!(feed.contains("SUMMARY:Cut\\, colour\\; and more\r\n"));
        assert!(feed.lines().all(|l| l.len() <= 75), "folded");
        assert!(feed.contains("\r\n "), "a long line is folded");
    }

    #[test]
    fn the_repeated_hour_is_written_in_utc() {
        // 01:30 local happens twice in Lisbon on 2026-10-25; the second is 01:30Z.
        let feed = render(
            "Rita",
            "Europe/Lisbon",
            &[event("2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z")],
            at("2026-01-01T00:00:00Z"),
        );
        assert!(feed.contains("DTSTART:20261025T013000Z\r\n"), "{feed}");
        assert!(feed.contains("DTEND;TZID=Europe/Lisbon:20261025T023000\r\n"), "{feed}");
    }

    #[test]
    fn zones_without_transitions_still_get_a_vtimezone() {
        let utc = CalendarEvent {
            time_zone: "UTC".into(),
            ..event("2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z")
        };
        let feed = render("X", "UTC", &[utc], at("2026-01-01T00:00:00Z"));
        assert!(feed.contains("BEGIN:VTIMEZONE\r\nTZID:UTC\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0000\r\n"), "{feed}");
    }
}
