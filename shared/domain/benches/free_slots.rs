//! Free slots over many professionals and days: `cargo bench -p atelier-domain --bench
//! free_slots`. Each professional works Monday to Saturday, 09:00-13:00 and 14:00-19:00, has a
//! day off in the range, and a third of their hour-long appointments already booked; the
//! service is an hour with a 15-minute clean-up, on a 15-minute grid, in Lisbon (the range
//! crosses the October change of clocks). Figures and the target are in docs/performance.md.

use std::hint::black_box;

use atelier_domain::availability::{
    AvailabilityException, Day, ExceptionKind, TimeOfDay, WeeklyRange, WeeklySchedule,
};
use atelier_domain::scheduling::{Calendar, Occupancy, Rules, ServiceShape, free_slots};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

struct Professional {
    id: String,
    schedule: WeeklySchedule,
    exceptions: Vec<AvailabilityException>,
    occupancy: Occupancy,
}

fn professionals(n: usize, from: Date, days: i64, tz: &TimeZone) -> Vec<Professional> {
    let mut ranges = Vec::new();
    for day in [Day::Monday, Day::Tuesday, Day::Wednesday, Day::Thursday, Day::Friday, Day::Saturday] {
        ranges.push(WeeklyRange { day, start: TimeOfDay(9 * 60), end: TimeOfDay(13 * 60) });
        ranges.push(WeeklyRange { day, start: TimeOfDay(14 * 60), end: TimeOfDay(19 * 60) });
    }
    (0..n)
        .map(|i| {
            let off =
                from.checked_add(Span::new().days(i64::try_from(i).unwrap_or(0) % days)).unwrap_or(from);
            let mut occupancy = Occupancy::default();
            for d in 0..days {
                let date = from.checked_add(Span::new().days(d)).unwrap_or(from);
                for hour in [9, 11, 15, 17] {
                    if (i + usize::try_from(d).unwrap_or(0) + hour) % 3 == 0 {
                        let start = tz
                            .to_ambiguous_timestamp(
                                date.to_datetime(jiff::civil::Time::constant(hour as i8, 0, 0, 0)),
                            )
                            .compatible()
                            .unwrap_or(Timestamp::UNIX_EPOCH);
                        occupancy.add(start, start + SignedDuration::from_mins(75));
                    }
                }
            }
            Professional {
                id: format!("pro-{i}"),
                schedule: WeeklySchedule { ranges: ranges.clone() },
                exceptions: vec![AvailabilityException {
                    kind: ExceptionKind::TimeOff,
                    start_date: off,
                    end_date: off,
                    start_time: None,
                    end_time: None,
                    note: String::new(),
                }],
                occupancy,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let tz = TimeZone::get("Europe/Lisbon").unwrap_or(TimeZone::UTC);
    let from: Date = Date::constant(2026, 10, 5);
    let rules = Rules {
        time_zone: tz.clone(),
        slot_step_minutes: 15,
        min_notice_minutes: 60,
        horizon_days: 365,
        now: Timestamp::constant(1_791_000_000, 0), // 2026-10-03
    };
    let shape = ServiceShape { duration_minutes: 60, buffer_before_minutes: 0, buffer_after_minutes: 15 };
    let mut group = c.benchmark_group("free_slots");
    for (n, days) in [(50usize, 31i64), (200, 31), (1000, 90)] {
        let pros = professionals(n, from, days, &tz);
        let calendars: Vec<Calendar<'_>> = pros
            .iter()
            .map(|p| Calendar {
                professional_id: &p.id,
                schedule: &p.schedule,
                exceptions: &p.exceptions,
                occupancy: &p.occupancy,
                capacity: 1,
            })
            .collect();
        let to = from.checked_add(Span::new().days(days - 1)).unwrap_or(from);
        let found = free_slots(&rules, shape, from, to, &calendars, None);
        assert!(!found.is_empty(), "the setup has free time");
        // Throughput per professional-day: the time each costs should stay about the same.
        group.throughput(Throughput::Elements(
            u64::try_from(n).unwrap_or(0) * u64::try_from(days).unwrap_or(0),
        ));
        group.bench_function(format!("{n} professionals x {days} days"), |b| {
            b.iter(|| free_slots(black_box(&rules), shape, from, to, black_box(&calendars), None))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
