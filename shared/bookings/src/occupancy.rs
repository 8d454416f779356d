//! Occupancy counters: how many bookings hold each 5-minute cell of a professional's time and
//! of a resource type's pool. One item per owner and UTC hour, one number attribute per cell
//! (`c00`..`c55`). A booking claims its cells with `ADD 1` under the condition that each is
//! below capacity, in the transaction that writes the booking, so two bookings can never both
//! take the last place, whatever the concurrency; releasing is `ADD -1`. A reschedule nets the
//! two per cell, so cells both times share are not counted twice.

use atelier_domain::ids::{StudioId, UserId};
use std::collections::BTreeMap;

use atelier_domain::scheduling::{CELL_MINUTES, Occupancy, cells};
use jiff::Timestamp;

use atelier_platform::store::{Condition, Item, Key, Query, SortKey, UpdateAction, Value, WriteOp, attr};
use atelier_platform::{AppError, Platform};

/// Counters outlive their hour by this long (then DynamoDB TTL removes them).
const KEEP_SECONDS: i64 = 2 * 24 * 3600;

/// Whose cells.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// A professional's time.
    Professional(UserId),
    /// A resource type's pool (all active resources of the type).
    Pool(String),
}

impl Owner {
    /// The partition of the owner's counters in a studio.
    pub fn partition(&self, studio_id: &StudioId) -> String {
        match self {
            Owner::Professional(id) => format!("STUDIO#{studio_id}#OCC#PRO#{id}"),
            Owner::Pool(kind) => format!("STUDIO#{studio_id}#OCC#RES#{kind}"),
        }
    }
}

/// Cells held over `[start, end)` (buffers included), counted against `capacity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Whose cells.
    pub owner: Owner,
    /// First instant blocked.
    pub start: Timestamp,
    /// End, excluded.
    pub end: Timestamp,
    /// How many bookings may hold a cell at once.
    pub capacity: u32,
}

fn hour_key(studio_id: &StudioId, owner: &Owner, hour: i64) -> Key {
    Key::new(owner.partition(studio_id), format!("{hour:010}"))
}

fn cell_attr(minute: i64) -> String {
    format!("c{minute:02}")
}

/// A condition that never holds: claiming beyond a capacity of zero.
fn never() -> Condition {
    Condition::And(vec![Condition::Exists, Condition::NotExists])
}

/// The writes that release `release` and claim `claim`, netted per cell, one update per owner
/// and hour; each write is paired with its owner, so a failed condition names who was full.
pub fn moves(studio_id: &StudioId, release: &[Hold], claim: &[Hold]) -> Vec<(WriteOp, Owner)> {
    // (owner, hour) -> minute -> (delta, capacity)
    let mut net: BTreeMap<(Owner, i64), BTreeMap<i64, (i64, u32)>> = BTreeMap::new();
    let mut count = |hold: &Hold, delta: i64| {
        for cell in cells(hold.start, hold.end) {
            let (hour, minute) = (cell.div_euclid(60), cell.rem_euclid(60));
            let entry =
                net.entry((hold.owner.clone(), hour)).or_default().entry(minute).or_insert((0, u32::MAX));
            entry.0 += delta;
            if delta > 0 {
                entry.1 = entry.1.min(hold.capacity);
            }
        }
    };
    for hold in release {
        count(hold, -1);
    }
    for hold in claim {
        count(hold, 1);
    }
    let mut writes = Vec::new();
    for ((owner, hour), minutes) in net {
        let mut actions = Vec::new();
        let mut conditions = Vec::new();
        let mut claims = false;
        for (minute, (delta, capacity)) in minutes {
            if delta == 0 {
                continue;
            }
            let name = cell_attr(minute);
            actions.push(UpdateAction::Add(name.clone(), delta));
            if delta > 0 {
                claims = true;
                let room = i64::from(capacity) - delta;
                conditions.push(if room < 0 {
                    never()
                } else {
                    Condition::Or(vec![
                        Condition::AttrNotExists(name.clone()),
                        Condition::Le(name, Value::N(room)),
                    ])
                });
            } else {
                // Never below zero: a release without its claim is a bug to surface, not absorb.
                conditions.push(Condition::Ge(name, Value::N(-delta)));
            }
        }
        if actions.is_empty() {
            continue;
        }
        if claims {
            let expires = (hour + 1) * 3600 + KEEP_SECONDS;
            actions.push(UpdateAction::SetIfNotExists(attr::TTL.into(), Value::N(expires)));
        }
        let op = WriteOp::Update {
            key: hour_key(studio_id, &owner, hour),
            actions,
            condition: Some(Condition::And(conditions)),
        };
        writes.push((op, owner));
    }
    writes
}

/// The owner's counters over `[from, to)`, in one query (paged by the store if large).
pub async fn load(
    platform: &Platform,
    studio_id: &StudioId,
    owner: &Owner,
    from: Timestamp,
    to: Timestamp,
) -> Result<Occupancy, AppError> {
    let (first, last) = (from.as_second().div_euclid(3600), to.as_second().div_euclid(3600));
    let query = Query::partition(owner.partition(studio_id))
        .sort(SortKey::Between(format!("{first:010}"), format!("{last:010}")));
    let items = platform.store.query_all(query, 100_000).await?;
    Ok(occupancy_of(&items))
}

/// Counters as the domain's occupancy map.
pub fn occupancy_of(items: &[Item]) -> Occupancy {
    let mut occupancy = Occupancy::default();
    for item in items {
        let Some(hour) = item.get(attr::SK).and_then(Value::as_str).and_then(|sk| sk.parse::<i64>().ok())
        else {
            continue;
        };
        for (name, value) in item.iter() {
            // `cMM`: two digits after a `c`; nothing else on the item looks like it.
            let &[b'c', tens, units] = name.as_bytes() else { continue };
            if !(tens.is_ascii_digit() && units.is_ascii_digit()) {
                continue;
            }
            let minute = i64::from((tens - b'0') * 10 + (units - b'0'));
            if let Some(n) = value.as_i64()
                && minute % CELL_MINUTES == 0
                && n > 0
            {
                occupancy.0.insert(hour * 60 + minute, u32::try_from(n).unwrap_or(u32::MAX));
            }
        }
    }
    occupancy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("instant")
    }

    fn hold(owner: &str, start: &str, end: &str) -> Hold {
        Hold { owner: Owner::Professional(owner.into()), start: at(start), end: at(end), capacity: 1 }
    }

    #[test]
    fn claims_are_one_update_per_hour_with_a_condition_per_cell() {
        let writes = moves(&"s".into(), &[], &[hold("p", "2026-01-06T10:30:00Z", "2026-01-06T11:15:00Z")]);
        assert_eq!(writes.len(), 2, "two hours touched");
        let WriteOp::Update { key, actions, condition } = &writes[0].0 else { panic!("update") };
        assert_eq!(key.pk, "STUDIO#s#OCC#PRO#p");
        assert_eq!(actions.iter().filter(|a| matches!(a, UpdateAction::Add(_, 1))).count(), 6);
        let Some(Condition::And(cells)) = condition else { panic!("conditions") };
        assert_eq!(cells.len(), 6);
        let full: Item = Item::new(key).with("c30", 1);
        assert!(!condition.as_ref().expect("condition").evaluate(Some(&full)), "a full cell refuses");
        assert!(condition.as_ref().expect("condition").evaluate(None), "an empty hour accepts");
    }

    #[test]
    fn a_move_nets_shared_cells() {
        let old = hold("p", "2026-01-06T10:00:00Z", "2026-01-06T11:00:00Z");
        let new = hold("p", "2026-01-06T10:30:00Z", "2026-01-06T11:30:00Z");
        let writes = moves(&"s".into(), &[old], &[new]);
        let adds: Vec<(String, i64)> = writes
            .iter()
            .flat_map(|(op, _)| match op {
                WriteOp::Update { actions, .. } => actions
                    .iter()
                    .filter_map(|a| match a {
                        UpdateAction::Add(n, d) => Some((n.clone(), *d)),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(adds.iter().filter(|(_, d)| *d == -1).count(), 6, "10:00-10:30 released");
        assert_eq!(adds.iter().filter(|(_, d)| *d == 1).count(), 6, "11:00-11:30 claimed");
        assert!(
            moves(
                &"s".into(),
                &[hold("p", "2026-01-06T10:00:00Z", "2026-01-06T11:00:00Z")],
                &[hold("p", "2026-01-06T10:00:00Z", "2026-01-06T11:00:00Z")]
            )
            .is_empty()
        );
    }

    mod model {
        //! Random sequences of book / cancel / reschedule across professionals, in zones that
        //! change their clocks, applied through the claims' conditions as the stores evaluate
        //! them (all or nothing), checked against a plain model: a claim succeeds exactly when
        //! the model says it fits, and no cell is ever held beyond capacity.

        use std::collections::HashMap;

        use jiff::civil::Date;
        use jiff::tz::TimeZone;
        use jiff::{SignedDuration, Span};
        use proptest::prelude::*;

        use super::super::*;
        use atelier_platform::store::apply_update;

        /// Applies writes all or nothing, as a transaction does.
        fn transact(store: &mut HashMap<Key, Item>, ops: &[(WriteOp, Owner)]) -> bool {
            let fits =
                ops.iter().all(|(op, _)| op.condition().is_none_or(|c| c.evaluate(store.get(&op.key()))));
            if fits {
                for (op, _) in ops {
                    let WriteOp::Update { key, actions, .. } = op else { panic!("claims are updates") };
                    let next = apply_update(store.get(key), key, actions).expect("applies");
                    store.insert(key.clone(), next);
                }
            }
            fits
        }

        #[derive(Debug, Clone)]
        enum Op {
            Book { pro: usize, day: i64, quarter: i64, minutes: i64, after: i64 },
            Cancel { pick: usize },
            Move { pick: usize, day: i64, quarter: i64 },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0..3usize, -1..2i64, 0..96i64, 1..13i64, 0..7i64)
                    .prop_map(|(pro, day, quarter, m, a)| Op::Book { pro, day, quarter, minutes: m * 15, after: a * 5 }),
                1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
                2 => (any::<usize>(), -1..2i64, 0..96i64).prop_map(|(pick, day, quarter)| Op::Move { pick, day, quarter }),
            ]
        }

        /// Zones whose clocks change (Lord Howe by half an hour), each with a changeover date.
        const ZONES: [(&str, &str); 4] = [
            ("Europe/Lisbon", "2026-10-25"),
            ("America/New_York", "2026-03-08"),
            ("Australia/Lord_Howe", "2026-04-05"),
            ("Europe/London", "2027-03-28"),
        ];

        fn start(zone: &TimeZone, change: Date, day: i64, quarter: i64) -> Timestamp {
            let date = change.checked_add(Span::new().days(day)).expect("date");
            let civil =
                date.to_datetime(jiff::civil::Time::midnight()) + SignedDuration::from_mins(quarter * 15);
            zone.to_ambiguous_timestamp(civil).compatible().expect("instant")
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]
            #[test]
            fn claims_never_exceed_capacity(zone in 0..ZONES.len(), ops in proptest::collection::vec(op(), 1..25)) {
                let (name, change) = ZONES[zone];
                let tz = TimeZone::get(name).expect("zone");
                let change: Date = change.parse().expect("date");
                let capacity = [1u32, 2, 1];
                let mut store: HashMap<Key, Item> = HashMap::new();
                let mut booked: Vec<Hold> = Vec::new();
                for op in ops {
                    match op {
                        Op::Book { pro, day, quarter, minutes, after } => {
                            let s = start(&tz, change, day, quarter);
                            let hold = Hold {
                                owner: Owner::Professional(format!("p{pro}").into()),
                                start: s,
                                end: s + SignedDuration::from_mins(minutes + after),
                                capacity: capacity[pro],
                            };
                            let mut model = Occupancy::default();
                            for b in booked.iter().filter(|b| b.owner == hold.owner) {
                                model.add(b.start, b.end);
                            }
                            let fits = model.fits(hold.start, hold.end, hold.capacity);
                            let done = transact(&mut store, &moves(&"s".into(), &[], std::slice::from_ref(&hold)));
                            prop_assert_eq!(done, fits, "the store and the model agree on {:?}", hold);
                            if done {
                                booked.push(hold);
                            }
                        }
                        Op::Cancel { pick } if !booked.is_empty() => {
                            let hold = booked.remove(pick % booked.len());
                            prop_assert!(transact(&mut store, &moves(&"s".into(), &[hold], &[])), "a release always applies");
                        }
                        Op::Move { pick, day, quarter } if !booked.is_empty() => {
                            let i = pick % booked.len();
                            let old = booked[i].clone();
                            let s = start(&tz, change, day, quarter);
                            let new = Hold { start: s, end: s + (old.end - old.start), ..old.clone() };
                            let mut model = Occupancy::default();
                            for (j, b) in booked.iter().enumerate() {
                                if j != i && b.owner == old.owner {
                                    model.add(b.start, b.end);
                                }
                            }
                            let fits = model.fits(new.start, new.end, new.capacity);
                            let done = transact(&mut store, &moves(&"s".into(), std::slice::from_ref(&old), std::slice::from_ref(&new)));
                            prop_assert_eq!(done, fits, "a move applies exactly when the new time fits");
                            if done {
                                booked[i] = new;
                            }
                        }
                        _ => {}
                    }
                    // The counters are exactly the model's, and never beyond capacity.
                    for (pro, cap) in capacity.iter().enumerate() {
                        let owner = Owner::Professional(format!("p{pro}").into());
                        let mut model = Occupancy::default();
                        for b in booked.iter().filter(|b| b.owner == owner) {
                            model.add(b.start, b.end);
                        }
                        let items: Vec<Item> = store.iter().filter(|(k, _)| k.pk == owner.partition(&"s".into())).map(|(_, i)| i.clone()).collect();
                        let stored = occupancy_of(&items);
                        let expected: std::collections::BTreeMap<i64, u32> = model.0.into_iter().filter(|(_, n)| *n > 0).collect();
                        prop_assert_eq!(&stored.0, &expected);
                        prop_assert!(stored.0.values().all(|n| n <= cap), "never beyond capacity");
                    }
                }
            }
        }
    }

    #[test]
    fn counters_read_back_as_occupancy() {
        let item = Item::new(&Key::new("x", format!("{:010}", 493_000)))
            .with("c05", 2)
            .with("c10", 0)
            .with("ttl", 9);
        let occupancy = occupancy_of(&[item]);
        assert_eq!(occupancy.0.into_iter().collect::<Vec<_>>(), [(493_000 * 60 + 5, 2)]);
    }
}
