//! Store conformance: every behaviour of the store port, on both adapters.

use std::sync::Arc;

use atelier_platform::clock::Clock;
use atelier_platform::store::{
    Condition, Cursor, Fault, Index, Item, Key, Query, SortKey, StoreError, UpdateAction, Value, WriteOp,
    attr, limits,
};
use atelier_tests::TestApp;
use jiff::SignedDuration;

fn item(pk: &str, sk: &str) -> Item {
    Item::new(&Key::new(pk, sk))
}

fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.key().expect("key").sk).collect()
}

async fn conditional_put(app: TestApp) {
    let store = &app.platform.store;
    let key = Key::new("P#1", "A");
    store
        .write(WriteOp::create(item("P#1", "A").with(attr::VERSION, 1).with("name", "first")))
        .await
        .expect("create");

    let again = store.write(WriteOp::create(item("P#1", "A").with("name", "second"))).await;
    match again {
        Err(StoreError::ConditionFailed { index: 0, current: Some(current) }) => {
            assert_eq!(current.string("name").ok(), Some("first"), "the current item comes back");
        }
        other => panic!("expected a failed condition, got {other:?}"),
    }

    let stale = WriteOp::put(item("P#1", "A").with(attr::VERSION, 2)).when(Condition::version_is(0));
    assert!(store.write(stale).await.expect_err("stale version").is_condition_failed_at(0));
    let fresh = WriteOp::put(item("P#1", "A").with(attr::VERSION, 2).with("name", "v2"))
        .when(Condition::version_is(1));
    store.write(fresh).await.expect("matching version");
    let current = store.get(&key).await.expect("get").expect("exists");
    assert_eq!(current.number(attr::VERSION).ok(), Some(2));
    assert_eq!(current.string("name").ok(), Some("v2"));

    // "Not equal" holds for an absent attribute, on both adapters.
    let ne = WriteOp::check(key.clone(), Condition::Ne("missing".into(), Value::S("x".into())));
    store.transact(vec![ne, WriteOp::put(item("P#1", "B"))]).await.expect("ne on absent attribute holds");
    let exists = WriteOp::check(Key::new("P#1", "nope"), Condition::Exists);
    let err = store.transact(vec![WriteOp::put(item("P#1", "C")), exists]).await.expect_err("absent");
    assert!(err.is_condition_failed_at(1), "{err:?}");
    assert!(store.get(&Key::new("P#1", "C")).await.expect("get").is_none(), "nothing applied");
}

async fn updates_counters_and_returned_items(app: TestApp) {
    let store = &app.platform.store;
    let key = Key::new("C#1", "COUNTER");
    let first = store
        .write(WriteOp::update(
            key.clone(),
            vec![
                UpdateAction::Add("hits".into(), 1),
                UpdateAction::SetIfNotExists("created".into(), Value::S("t1".into())),
                UpdateAction::Set("label".into(), Value::S("a".into())),
            ],
        ))
        .await
        .expect("update creates")
        .expect("returns the new item");
    assert_eq!(first.number("hits").ok(), Some(1));
    let second = store
        .write(WriteOp::update(
            key.clone(),
            vec![
                UpdateAction::Add("hits".into(), 5),
                UpdateAction::SetIfNotExists("created".into(), Value::S("t2".into())),
                UpdateAction::Remove("label".into()),
            ],
        ))
        .await
        .expect("update")
        .expect("item");
    assert_eq!(second.number("hits").ok(), Some(6));
    assert_eq!(second.string("created").ok(), Some("t1"), "if_not_exists keeps the first value");
    assert!(second.get("label").is_none());

    let guarded = WriteOp::Update {
        key: key.clone(),
        actions: vec![UpdateAction::Add("hits".into(), 1)],
        condition: Some(Condition::Lt("hits".into(), Value::N(6))),
    };
    assert!(store.write(guarded).await.expect_err("hits is 6").is_condition_failed_at(0));
    let must_exist = WriteOp::Update {
        key: Key::new("C#1", "ABSENT"),
        actions: vec![UpdateAction::Add("hits".into(), 1)],
        condition: Some(Condition::Exists),
    };
    assert!(store.write(must_exist).await.expect_err("absent").is_condition_failed_at(0));
    assert!(store.get(&Key::new("C#1", "ABSENT")).await.expect("get").is_none());

    let delete = WriteOp::Delete { key: key.clone(), condition: Some(Condition::eq("hits", 7)) };
    assert!(store.write(delete).await.expect_err("hits is 6").is_condition_failed_at(0));
    store
        .write(WriteOp::Delete { key: key.clone(), condition: Some(Condition::eq("hits", 6)) })
        .await
        .expect("delete");
    assert!(store.get(&key).await.expect("get").is_none());
}

async fn transactions_are_all_or_nothing(app: TestApp) {
    let store = &app.platform.store;
    store.write(WriteOp::put(item("T#1", "EXISTING").with("n", 1))).await.expect("seed");
    let ops = vec![
        WriteOp::create(item("T#1", "NEW-A")),
        WriteOp::create(item("T#1", "EXISTING")),
        WriteOp::update(Key::new("T#1", "COUNT"), vec![UpdateAction::Add("n".into(), 1)]),
        WriteOp::delete(Key::new("T#1", "EXISTING-2")),
    ];
    match store.transact(ops).await {
        Err(StoreError::ConditionFailed { index: 1, current: Some(current) }) => {
            assert_eq!(current.number("n").ok(), Some(1));
        }
        other => panic!("expected the second write to fail, got {other:?}"),
    }
    let all = store.query(&Query::partition("T#1")).await.expect("query");
    assert_eq!(sks(&all.items), vec!["EXISTING"], "nothing of the failed transaction was applied");

    let twice = store
        .transact(vec![
            WriteOp::create(item("T#1", "NEW-A")),
            WriteOp::check(Key::new("T#1", "EXISTING"), Condition::eq("n", 1)),
            WriteOp::update(Key::new("T#1", "COUNT"), vec![UpdateAction::Add("n".into(), 1)]),
            WriteOp::delete(Key::new("T#1", "EXISTING")).when(Condition::Exists),
        ])
        .await;
    assert!(
        matches!(twice, Err(StoreError::DuplicateItem { index: 3 })),
        "a check and a delete of one item: {twice:?}"
    );
    store
        .transact(vec![
            WriteOp::create(item("T#1", "NEW-A")),
            WriteOp::check(Key::new("T#1", "EXISTING"), Condition::eq("n", 1)),
            WriteOp::update(Key::new("T#1", "COUNT"), vec![UpdateAction::Add("n".into(), 1)]),
        ])
        .await
        .expect("all conditions hold");
    let all = store.query(&Query::partition("T#1")).await.expect("query");
    assert_eq!(sks(&all.items), vec!["COUNT", "EXISTING", "NEW-A"]);
}

async fn limits_are_refused_before_sending(app: TestApp) {
    let store = &app.platform.store;
    let calls = app.faults.write_calls();

    let too_many: Vec<WriteOp> = (0..101).map(|i| WriteOp::put(item("L#1", &format!("{i:03}")))).collect();
    assert!(matches!(store.transact(too_many).await, Err(StoreError::TooManyActions(101))));
    let hundred: Vec<WriteOp> = (0..100).map(|i| WriteOp::put(item("L#1", &format!("{i:03}")))).collect();

    let big = "x".repeat(limits::ITEM_BYTES);
    let oversized = store.transact(vec![
        WriteOp::put(item("L#1", "a")),
        WriteOp::put(item("L#1", "b").with("blob", big.as_str())),
    ]);
    assert!(matches!(oversized.await, Err(StoreError::ItemTooLarge { index: 1, .. })));
    assert!(matches!(
        store.write(WriteOp::put(item("L#1", "b").with("blob", big.as_str()))).await,
        Err(StoreError::ItemTooLarge { index: 0, .. })
    ));

    let chunk = "y".repeat(390 * 1024);
    let heavy: Vec<WriteOp> =
        (0..11).map(|i| WriteOp::put(item("L#1", &format!("h{i}")).with("blob", chunk.as_str()))).collect();
    assert!(matches!(store.transact(heavy).await, Err(StoreError::TransactionTooLarge(_))));

    let twice = vec![WriteOp::put(item("L#1", "same")), WriteOp::delete(Key::new("L#1", "same"))];
    assert!(matches!(store.transact(twice).await, Err(StoreError::DuplicateItem { index: 1 })));

    assert_eq!(app.faults.write_calls(), calls, "refused requests never reach the adapter");
    store.transact(hundred).await.expect("100 actions is the limit, and allowed");
    let written = store.query_all(Query::partition("L#1"), 1000).await.expect("query");
    assert_eq!(written.len(), 100);
}

async fn sort_key_conditions_and_order(app: TestApp) {
    let store = &app.platform.store;
    let ops = ["A#1", "A#2", "A#3", "A#4", "A#5", "B#1", "A"]
        .iter()
        .map(|sk| WriteOp::put(item("S#1", sk)))
        .collect();
    store.transact(ops).await.expect("seed");
    store.write(WriteOp::put(item("S#2", "A#9"))).await.expect("other partition");

    let q = |sort: SortKey| Query::partition("S#1").sort(sort);
    let page = |q: Query| async move { sks(&store.query(&q).await.expect("query").items) };
    assert_eq!(page(q(SortKey::BeginsWith("A#".into()))).await, ["A#1", "A#2", "A#3", "A#4", "A#5"]);
    assert_eq!(page(q(SortKey::Between("A#2".into(), "A#4".into()))).await, ["A#2", "A#3", "A#4"]);
    assert_eq!(page(q(SortKey::Lt("A#2".into()))).await, ["A", "A#1"]);
    assert_eq!(page(q(SortKey::Le("A#2".into()))).await, ["A", "A#1", "A#2"]);
    assert_eq!(page(q(SortKey::Gt("A#5".into()))).await, ["B#1"]);
    assert_eq!(page(q(SortKey::Ge("A#5".into()))).await, ["A#5", "B#1"]);
    assert_eq!(page(q(SortKey::Eq("A#3".into()))).await, ["A#3"]);
    assert_eq!(
        page(q(SortKey::BeginsWith("A#".into())).descending()).await,
        ["A#5", "A#4", "A#3", "A#2", "A#1"]
    );
    assert_eq!(page(Query::partition("S#1").descending().limit(2)).await, ["B#1", "A#5"]);
    assert!(page(Query::partition("S#3")).await.is_empty());
}

async fn index_queries(app: TestApp) {
    let store = &app.platform.store;
    let indexed =
        |sk: &str, ipk: &str, isk: &str| item("I#1", sk).with(attr::GSI1PK, ipk).with(attr::GSI1SK, isk);
    store
        .transact(vec![
            WriteOp::put(indexed("a", "BY#x", "2026-01-03")),
            WriteOp::put(indexed("b", "BY#x", "2026-01-01")),
            WriteOp::put(indexed("c", "BY#y", "2026-01-02")),
            WriteOp::put(item("I#1", "d").with(attr::GSI1PK, "BY#x")),
            WriteOp::put(item("I#1", "e").with(attr::GSI2PK, "OTHER").with(attr::GSI2SK, "1")),
        ])
        .await
        .expect("seed");
    let by_x = store.query(&Query::partition("BY#x").on(Index::Gsi1)).await.expect("query");
    assert_eq!(sks(&by_x.items), ["b", "a"], "index order; items without both index keys are not in it");
    let later = Query::partition("BY#x").on(Index::Gsi1).sort(SortKey::Ge("2026-01-02".into()));
    assert_eq!(sks(&store.query(&later).await.expect("query").items), ["a"]);
    let other = store.query(&Query::partition("OTHER").on(Index::Gsi2)).await.expect("query");
    assert_eq!(sks(&other.items), ["e"]);

    // Moving and removing index keys moves and removes entries.
    store
        .write(WriteOp::update(
            Key::new("I#1", "a"),
            vec![UpdateAction::Set(attr::GSI1PK.into(), Value::S("BY#y".into()))],
        ))
        .await
        .expect("move");
    store.write(WriteOp::delete(Key::new("I#1", "b"))).await.expect("delete");
    let by_x = store.query(&Query::partition("BY#x").on(Index::Gsi1)).await.expect("query");
    assert!(by_x.items.is_empty(), "{:?}", sks(&by_x.items));
    let by_y = store.query(&Query::partition("BY#y").on(Index::Gsi1).descending()).await.expect("query");
    assert_eq!(sks(&by_y.items), ["a", "c"]);
}

async fn cursor_pagination_is_stable(app: TestApp) {
    let store = &app.platform.store;
    let ops: Vec<WriteOp> = (0..25)
        .map(|i| {
            // Index sort keys repeat, so index pages must break ties by the table key.
            WriteOp::put(
                item("PG#1", &format!("k{i:02}"))
                    .with(attr::GSI1PK, "PG")
                    .with(attr::GSI1SK, format!("{}", i / 5)),
            )
        })
        .collect();
    store.transact(ops).await.expect("seed");

    for (index, descending) in
        [(None, false), (None, true), (Some(Index::Gsi1), false), (Some(Index::Gsi1), true)]
    {
        let mut query = match index {
            None => Query::partition("PG#1"),
            Some(i) => Query::partition("PG").on(i),
        }
        .limit(10);
        if descending {
            query = query.descending();
        }
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let page = store.query(&query).await.expect("page");
            sizes.push(page.items.len());
            seen.extend(sks(&page.items));
            if seen.len() == 10 {
                // A write behind the cursor between pages must not shift what comes next.
                let (sk, isk) = if descending { ("z-late", "9") } else { ("a-early", "0") };
                store
                    .write(WriteOp::put(item("PG#1", sk).with(attr::GSI1PK, "PG").with(attr::GSI1SK, isk)))
                    .await
                    .expect("late write");
            }
            match page.next {
                Some(cursor) => {
                    // Cursors travel to clients as text.
                    let cursor = Cursor::decode(&cursor.encode()).expect("cursor round-trips");
                    query = query.clone().after(cursor);
                }
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
        if descending {
            expected.reverse();
        }
        assert_eq!(
            sizes,
            vec![10, 10, 5],
            "index {index:?} descending {descending}: the last page says it is the last"
        );
        if index.is_none() {
            assert_eq!(seen, expected, "table order, descending {descending}");
        } else {
            // DynamoDB leaves the order of equal index keys open: check each item came once,
            // in index-key order.
            let groups: Vec<usize> =
                seen.iter().map(|sk| sk[1..].parse::<usize>().expect("k-number") / 5).collect();
            let mut ordered = groups.clone();
            ordered.sort_unstable();
            if descending {
                ordered.reverse();
            }
            assert_eq!(groups, ordered, "index order, descending {descending}");
            let mut unique = seen.clone();
            unique.sort();
            unique.dedup();
            expected.sort();
            assert_eq!(unique, expected, "every item exactly once");
        }
        for late in ["a-early", "z-late"] {
            store.write(WriteOp::delete(Key::new("PG#1", late))).await.expect("clean up");
        }
    }

    let exact = store.query(&Query::partition("PG#1").limit(25)).await.expect("query");
    assert!(exact.next.is_none(), "no next page when everything fit");
    let foreign = Cursor { pk: "OTHER".into(), sk: "k01".into(), index_key: None };
    let err = store.query(&Query::partition("PG#1").after(foreign)).await.expect_err("foreign cursor");
    assert!(matches!(err, StoreError::InvalidCursor));
}

async fn expired_items_are_invisible(app: TestApp) {
    let store = &app.platform.store;
    let now = app.clock.now().as_second();
    store
        .transact(vec![
            WriteOp::put(
                item("X#1", "gone").with(attr::TTL, now - 1).with(attr::GSI1PK, "X").with(attr::GSI1SK, "1"),
            ),
            WriteOp::put(
                item("X#1", "soon").with(attr::TTL, now + 60).with(attr::GSI1PK, "X").with(attr::GSI1SK, "2"),
            ),
            WriteOp::put(item("X#1", "forever")),
        ])
        .await
        .expect("seed");
    assert!(store.get(&Key::new("X#1", "gone")).await.expect("get").is_none());
    let table = store.query(&Query::partition("X#1")).await.expect("query");
    assert_eq!(sks(&table.items), ["forever", "soon"]);
    let index = store.query(&Query::partition("X").on(Index::Gsi1)).await.expect("query");
    assert_eq!(sks(&index.items), ["soon"]);
    let many = store.get_many(&[Key::new("X#1", "gone"), Key::new("X#1", "soon")]).await.expect("get many");
    assert_eq!(sks(&many), ["soon"]);

    // Conditions see an expired item as absent.
    store
        .write(WriteOp::create(item("X#1", "gone").with("reborn", true)))
        .await
        .expect("create over expired");
    let exists = WriteOp::check(Key::new("X#1", "soon"), Condition::Exists);
    store.write(exists.clone()).await.expect("still alive");

    app.clock.advance(SignedDuration::from_secs(61));
    assert!(store.get(&Key::new("X#1", "soon")).await.expect("get").is_none(), "expired by the clock");
    assert!(store.write(exists).await.expect_err("expired").is_condition_failed_at(0));
    let fresh = store.write(WriteOp::create(item("X#1", "soon"))).await;
    assert!(fresh.is_ok(), "an expired item does not block a create: {fresh:?}");
}

async fn conflicts_and_throttling_are_retried(app: TestApp) {
    let store = &app.platform.store;
    let ops = || vec![WriteOp::put(item("R#1", "a")), WriteOp::put(item("R#1", "b"))];
    let before = app.faults.write_calls();
    app.faults.inject([Fault::Conflict, Fault::Throttle, Fault::Conflict]);
    store.transact(ops()).await.expect("succeeds on the fourth attempt");
    assert_eq!(app.faults.write_calls() - before, 4);
    assert_eq!(store.query(&Query::partition("R#1")).await.expect("query").items.len(), 2);

    let before = app.faults.write_calls();
    app.faults.inject(vec![Fault::Conflict; 5]);
    let err = store.transact(ops()).await.expect_err("gives up");
    assert!(matches!(err, StoreError::TransactionConflict));
    assert_eq!(app.faults.write_calls() - before, 5, "bounded: five attempts in all");

    // A lost response is not retried: the outcome is unknown, the caller decides.
    app.faults.inject([Fault::LoseResponse]);
    let err = store.write(WriteOp::create(item("R#1", "c"))).await.expect_err("response lost");
    assert!(matches!(err, StoreError::Unavailable(_)));
    assert!(store.get(&Key::new("R#1", "c")).await.expect("get").is_some(), "but the write happened");
}

async fn get_many_reads_in_chunks(app: TestApp) {
    let store = &app.platform.store;
    let ops: Vec<WriteOp> = (0..90).map(|i| WriteOp::put(item("G#1", &format!("{i:03}")))).collect();
    store.transact(ops).await.expect("seed");
    let ops: Vec<WriteOp> = (90..150).map(|i| WriteOp::put(item("G#1", &format!("{i:03}")))).collect();
    store.transact(ops).await.expect("seed");
    let mut keys: Vec<Key> = (0..160).map(|i| Key::new("G#1", format!("{i:03}"))).collect();
    keys.push(Key::new("G#1", "000"));
    let mut found = sks(&store.get_many(&keys).await.expect("get many"));
    found.sort();
    let expected: Vec<String> = (0..150).map(|i| format!("{i:03}")).collect();
    assert_eq!(found, expected);
}

async fn concurrent_creates_make_exactly_one(app: TestApp) {
    let store = Arc::new(app.platform.store.clone());
    let attempts = (0..20).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.write(WriteOp::create(item("U#1", "unique").with("by", i))).await })
    });
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(_) => created += 1,
            Err(e) => assert!(e.is_condition_failed_at(0), "only condition failures: {e:?}"),
        }
    }
    assert_eq!(created, 1);
}

async fn concurrent_counters_lose_nothing(app: TestApp) {
    let store = Arc::new(app.platform.store.clone());
    let key = Key::new("N#1", "COUNT");
    let adds = (0..40).map(|_| {
        let store = store.clone();
        let key = key.clone();
        tokio::spawn(async move {
            store.write(WriteOp::update(key, vec![UpdateAction::Add("n".into(), 1)])).await
        })
    });
    for add in adds {
        add.await.expect("task").expect("add");
    }
    let item = store.get(&key).await.expect("get").expect("exists");
    assert_eq!(item.number("n").ok(), Some(40));
}

/// Relaxed writes (acknowledged before they are durable on the embedded store) keep every other
/// guarantee: conditions, updates, returned items, atomic counters under concurrency, and
/// visibility to the next read.
async fn relaxed_writes_keep_their_meaning(app: TestApp) {
    let store = Arc::new(app.platform.store.clone());
    let key = Key::new("R#1", "COUNT");
    let adds = (0..40).map(|_| {
        let store = store.clone();
        let key = key.clone();
        tokio::spawn(async move {
            store.write_relaxed(WriteOp::update(key, vec![UpdateAction::Add("n".into(), 1)])).await
        })
    });
    let mut returned = Vec::new();
    for add in adds {
        let item = add.await.expect("task").expect("add").expect("the item as written");
        returned.push(item.number("n").expect("n"));
    }
    returned.sort_unstable();
    assert_eq!(returned, (1..=40).collect::<Vec<i64>>(), "each add saw its own count");
    assert_eq!(store.get(&key).await.expect("get").expect("exists").number("n").ok(), Some(40));

    let refused = store.write_relaxed(WriteOp::create(item("R#1", "COUNT"))).await;
    assert!(refused.is_err_and(|e| e.is_condition_failed_at(0)), "conditions hold");
    store.write_relaxed(WriteOp::delete(key.clone())).await.expect("delete");
    assert!(store.get(&key).await.expect("get").is_none());
}

async fn updates_of_expired_items_start_fresh(app: TestApp) {
    let store = &app.platform.store;
    let now = app.clock.now().as_second();
    let stale = |sk: &str| item("E#1", sk).with(attr::TTL, now - 10).with("stale", "yes").with("n", 41);
    store
        .transact(vec![
            WriteOp::put(stale("single")),
            WriteOp::put(stale("in-tx")),
            WriteOp::put(stale("guarded")),
        ])
        .await
        .expect("seed");

    let bump =
        vec![UpdateAction::Add("n".into(), 1), UpdateAction::Set(attr::TTL.into(), Value::N(now + 600))];
    let fresh = store
        .write(WriteOp::update(Key::new("E#1", "single"), bump.clone()))
        .await
        .expect("update")
        .expect("item");
    assert_eq!(fresh.number("n").ok(), Some(1), "counted from nothing, not from the expired 41");
    assert!(fresh.get("stale").is_none(), "no attribute of the expired item survives");

    store
        .transact(vec![
            WriteOp::update(Key::new("E#1", "in-tx"), bump.clone()),
            WriteOp::put(item("E#1", "other")),
        ])
        .await
        .expect("transaction");
    let in_tx = store.get(&Key::new("E#1", "in-tx")).await.expect("get").expect("exists");
    assert_eq!((in_tx.number("n").ok(), in_tx.get("stale").is_none()), (Some(1), true));

    // An update that requires the item to exist fails on an expired one.
    let must_exist = WriteOp::Update {
        key: Key::new("E#1", "guarded"),
        actions: bump,
        condition: Some(Condition::Exists),
    };
    assert!(store.write(must_exist).await.expect_err("expired").is_condition_failed_at(0));
}

async fn oversized_updates_are_refused(app: TestApp) {
    let store = &app.platform.store;
    let half = "x".repeat(250 * 1024);
    store.write(WriteOp::put(item("Z#1", "big").with("a", half.as_str()))).await.expect("250 KB fits");
    let grow =
        WriteOp::update(Key::new("Z#1", "big"), vec![UpdateAction::Set("b".into(), Value::S(half.clone()))]);
    let err = store.write(grow).await.expect_err("500 KB does not");
    assert!(matches!(err, StoreError::ItemTooLarge { .. }), "{err:?}");
    let stored = store.get(&Key::new("Z#1", "big")).await.expect("get").expect("exists");
    assert!(stored.get("b").is_none(), "nothing written");
}

async fn sort_keys_beyond_ascii(app: TestApp) {
    let store = &app.platform.store;
    let keys = ["a", "a\u{D7FF}", "a\u{D7FF}z", "a\u{E000}", "é", "éa", "\u{1F600}"];
    store.transact(keys.iter().map(|k| WriteOp::put(item("U#1", k))).collect()).await.expect("seed");
    let prefix = |p: &str| Query::partition("U#1").sort(SortKey::BeginsWith(p.into()));
    assert_eq!(
        sks(&store.query(&prefix("a\u{D7FF}")).await.expect("query").items),
        ["a\u{D7FF}", "a\u{D7FF}z"]
    );
    assert_eq!(sks(&store.query(&prefix("é")).await.expect("query").items), ["é", "éa"]);
    let reversed = Query::partition("U#1").sort(SortKey::Between("b".into(), "a".into()));
    assert!(matches!(store.query(&reversed).await, Err(StoreError::Invalid(_))));
}

async fn expired_items_at_page_edges(app: TestApp) {
    let store = &app.platform.store;
    let now = app.clock.now().as_second();
    let ops = (0..9)
        .map(|i| {
            let it = item("PE#1", &format!("k{i}"));
            WriteOp::put(if i % 3 == 2 { it.with(attr::TTL, now - 1) } else { it })
        })
        .collect();
    store.transact(ops).await.expect("seed");
    let mut query = Query::partition("PE#1").limit(2);
    let mut seen = Vec::new();
    for _ in 0..10 {
        let page = store.query(&query).await.expect("page");
        assert!(page.items.len() <= 2);
        seen.extend(sks(&page.items));
        match page.next {
            Some(cursor) => query = query.clone().after(cursor),
            None => break,
        }
    }
    assert_eq!(seen, ["k0", "k1", "k3", "k4", "k6", "k7"], "each live item once, no expired one");
}

atelier_tests::on_both_backends!(
    updates_of_expired_items_start_fresh,
    oversized_updates_are_refused,
    sort_keys_beyond_ascii,
    expired_items_at_page_edges,
    conditional_put,
    updates_counters_and_returned_items,
    transactions_are_all_or_nothing,
    limits_are_refused_before_sending,
    sort_key_conditions_and_order,
    index_queries,
    cursor_pagination_is_stable,
    expired_items_are_invisible,
    conflicts_and_throttling_are_retried,
    get_many_reads_in_chunks,
    concurrent_creates_make_exactly_one,
    concurrent_counters_lose_nothing,
    relaxed_writes_keep_their_meaning,
);
