//! The store on a redb file: one B-tree for items ordered by (pk, sk) like a DynamoDB table,
//! one per index ordered by (index pk, index sk, pk, sk), all updated in one redb transaction
//! per write. Commits are durable (fsync) before they are acknowledged, except relaxed writes
//! (`write_relaxed`: rate-limit counters, outbox clean-ups), which ride on the next durable one.

use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use atelier_platform::store::{
    Cursor, Index, Item, Key, Order, Page, Query, SortKey, StoreBackend, StoreError, WriteOp, apply_update,
    limits,
};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::RelaxedCommits;

type ItemKey<'a> = (&'a str, &'a str);
type IndexKey<'a> = (&'a str, &'a str, &'a str, &'a str);

pub(crate) const ITEMS: TableDefinition<ItemKey<'static>, &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<IndexKey<'static>, ()> = TableDefinition::new("gsi1");
const GSI2: TableDefinition<IndexKey<'static>, ()> = TableDefinition::new("gsi2");

fn index_table(index: Index) -> TableDefinition<'static, IndexKey<'static>, ()> {
    match index {
        Index::Gsi1 => GSI1,
        Index::Gsi2 => GSI2,
    }
}

fn internal(e: impl Into<atelier_platform::store::Cause>) -> StoreError {
    StoreError::Internal(e.into())
}

/// The embedded store.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    relaxed: Arc<RelaxedCommits>,
}

impl EmbeddedStore {
    pub(crate) fn open(db: Arc<Database>) -> Result<EmbeddedStore, StoreError> {
        let txn = db.begin_write().map_err(internal)?;
        txn.open_table(ITEMS).map_err(internal)?;
        for index in Index::ALL {
            txn.open_table(index_table(index)).map_err(internal)?;
        }
        txn.commit().map_err(internal)?;
        Ok(EmbeddedStore { db, relaxed: Arc::default() })
    }

    /// Deletes items whose TTL has passed, as DynamoDB's TTL sweeper does (reads already hide
    /// them). Returns how many were deleted.
    pub fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(internal)?;
        let mut purged = 0;
        {
            let mut items = txn.open_table(ITEMS).map_err(internal)?;
            let mut expired = Vec::new();
            for entry in items.iter().map_err(internal)? {
                let (_, value) = entry.map_err(internal)?;
                let item = decode(value.value())?;
                if item.is_expired(now) {
                    expired.push(item);
                }
            }
            for item in expired {
                let key = item.key().ok_or_else(|| internal("stored item without key"))?;
                items.remove((key.pk.as_str(), key.sk.as_str())).map_err(internal)?;
                unindex(&txn, &item, &key)?;
                purged += 1;
            }
        }
        txn.commit().map_err(internal)?;
        Ok(purged)
    }

    async fn write_one(
        &self,
        op: &WriteOp,
        now: i64,
        durability: Durability,
    ) -> Result<Option<Item>, StoreError> {
        let ops = vec![op.clone()];
        let returns_item = matches!(op, WriteOp::Update { .. });
        let written = self.run(move |db| apply_all(db, &ops, now, durability)).await?;
        Ok(if returns_item { written.into_iter().next().flatten() } else { None })
    }

    /// Reads run on the caller's thread: a read transaction holds no lock across I/O or a
    /// writer's fsync and, on a warm file, costs microseconds, less than the two thread hops of
    /// the blocking pool (measured in docs/performance.md). A cold cache or a large query blocks
    /// the worker thread for longer, which the local server tolerates. Writes, which wait for
    /// the write lock and an fsync, go to the pool.
    fn read<T>(&self, f: impl FnOnce(&Database) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&self.db)
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> impl Future<Output = Result<T, StoreError>> + Send + 'static {
        let db = self.db.clone();
        async move {
            tokio::task::spawn_blocking(move || f(&db))
                .await
                .map_err(|e| internal(format!("store task failed: {e}")))?
        }
    }
}

fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
}

fn encode(item: &Item) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(item).map_err(|e| StoreError::Encode(e.to_string()))
}

fn live(item: Item, now: i64) -> Option<Item> {
    (!item.is_expired(now)).then_some(item)
}

fn read_item(
    table: &impl ReadableTable<ItemKey<'static>, &'static [u8]>,
    key: &Key,
) -> Result<Option<Item>, StoreError> {
    match table.get((key.pk.as_str(), key.sk.as_str())).map_err(internal)? {
        Some(value) => Ok(Some(decode(value.value())?)),
        None => Ok(None),
    }
}

/// The sort-key range a condition selects, as (lower, upper) bounds on the sort key.
fn sort_bounds(sort: Option<&SortKey>) -> (Bound<String>, Bound<String>) {
    use Bound::{Excluded, Included, Unbounded};
    match sort {
        None => (Unbounded, Unbounded),
        Some(SortKey::Eq(v)) => (Included(v.clone()), Included(v.clone())),
        Some(SortKey::BeginsWith(p)) => {
            (Included(p.clone()), prefix_successor(p).map_or(Unbounded, Excluded))
        }
        Some(SortKey::Between(a, b)) => (Included(a.clone()), Included(b.clone())),
        Some(SortKey::Lt(v)) => (Unbounded, Excluded(v.clone())),
        Some(SortKey::Le(v)) => (Unbounded, Included(v.clone())),
        Some(SortKey::Gt(v)) => (Excluded(v.clone()), Unbounded),
        Some(SortKey::Ge(v)) => (Included(v.clone()), Unbounded),
    }
}

/// The smallest string greater than every string starting with `prefix`, if there is one.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            // The surrogates are not chars: after U+D7FF comes U+E000.
            '\u{D7FF}' => Some('\u{E000}'),
            _ => char::from_u32(u32::from(last) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Every index entry lies strictly between these for one partition.
fn partition_end(pk: &str) -> String {
    format!("{pk}\0")
}

fn query_table(db: &Database, query: &Query, now: i64) -> Result<Page, StoreError> {
    let txn = db.begin_read().map_err(internal)?;
    let items = txn.open_table(ITEMS).map_err(internal)?;
    let limit = query.limit as usize;
    let (lower, upper) = sort_bounds(query.sort.as_ref());
    let end = partition_end(&query.pk);
    let mut found: Vec<Item> = Vec::with_capacity(limit.min(256) + 1);

    match query.index {
        None => {
            let pk = query.pk.as_str();
            let mut lo: Bound<ItemKey> = match &lower {
                Bound::Included(s) => Bound::Included((pk, s.as_str())),
                Bound::Excluded(s) => Bound::Excluded((pk, s.as_str())),
                Bound::Unbounded => Bound::Included((pk, "")),
            };
            let mut hi: Bound<ItemKey> = match &upper {
                Bound::Included(s) => Bound::Included((pk, s.as_str())),
                Bound::Excluded(s) => Bound::Excluded((pk, s.as_str())),
                Bound::Unbounded => Bound::Excluded((end.as_str(), "")),
            };
            if let Some(c) = &query.cursor {
                match query.order {
                    Order::Ascending => lo = Bound::Excluded((pk, c.sk.as_str())),
                    Order::Descending => hi = Bound::Excluded((pk, c.sk.as_str())),
                }
            }
            let range = items.range::<ItemKey>((lo, hi)).map_err(internal)?;
            let mut collect = |entry: Result<
                (redb::AccessGuard<ItemKey>, redb::AccessGuard<&[u8]>),
                redb::StorageError,
            >|
             -> Result<bool, StoreError> {
                let (key, value) = entry.map_err(internal)?;
                // The range is the sort condition's; checking again costs nothing and keeps
                // odd characters at the edges of it honest.
                let in_range = query.sort.as_ref().is_none_or(|s| s.matches(key.value().1));
                if let Some(item) = live(decode(value.value())?, now).filter(|_| in_range) {
                    found.push(item);
                }
                Ok(found.len() > limit)
            };
            match query.order {
                Order::Ascending => {
                    for entry in range {
                        if collect(entry)? {
                            break;
                        }
                    }
                }
                Order::Descending => {
                    for entry in range.rev() {
                        if collect(entry)? {
                            break;
                        }
                    }
                }
            }
        }
        Some(index) => {
            let table = txn.open_table(index_table(index)).map_err(internal)?;
            let ipk = query.pk.as_str();
            let mut lo: Bound<IndexKey> = match &lower {
                Bound::Included(s) => Bound::Included((ipk, s.as_str(), "", "")),
                // Excluded on the index sort key alone: skip every table key under it.
                Bound::Excluded(s) => Bound::Excluded((ipk, s.as_str(), "\u{10FFFF}", "\u{10FFFF}")),
                Bound::Unbounded => Bound::Included((ipk, "", "", "")),
            };
            let mut hi: Bound<IndexKey> = match &upper {
                Bound::Included(s) => Bound::Included((ipk, s.as_str(), "\u{10FFFF}", "\u{10FFFF}")),
                Bound::Excluded(s) => Bound::Excluded((ipk, s.as_str(), "", "")),
                Bound::Unbounded => Bound::Excluded((end.as_str(), "", "", "")),
            };
            if let Some(c) = &query.cursor {
                let (_, isk) = c.position();
                let at = (ipk, isk, c.pk.as_str(), c.sk.as_str());
                match query.order {
                    Order::Ascending => lo = Bound::Excluded(at),
                    Order::Descending => hi = Bound::Excluded(at),
                }
            }
            let range = table.range::<IndexKey>((lo, hi)).map_err(internal)?;
            let mut collect = |entry: Result<
                (redb::AccessGuard<IndexKey>, redb::AccessGuard<()>),
                redb::StorageError,
            >|
             -> Result<bool, StoreError> {
                let (key, _) = entry.map_err(internal)?;
                let (_, isk, pk, sk) = key.value();
                let in_range = query.sort.as_ref().is_none_or(|s| s.matches(isk));
                if let Some(item) =
                    read_item(&items, &Key::new(pk, sk))?.and_then(|i| live(i, now)).filter(|_| in_range)
                {
                    found.push(item);
                }
                Ok(found.len() > limit)
            };
            match query.order {
                Order::Ascending => {
                    for entry in range {
                        if collect(entry)? {
                            break;
                        }
                    }
                }
                Order::Descending => {
                    for entry in range.rev() {
                        if collect(entry)? {
                            break;
                        }
                    }
                }
            }
        }
    }

    // One item beyond the page tells whether there is a next page.
    let next = if found.len() > limit {
        found.truncate(limit);
        found.last().and_then(|last| Cursor::after(last, query.index))
    } else {
        None
    };
    Ok(Page { items: found, next })
}

fn index(txn: &redb::WriteTransaction, item: &Item, key: &Key) -> Result<(), StoreError> {
    for idx in Index::ALL {
        if let Some(ik) = idx.key_of(item) {
            let mut table = txn.open_table(index_table(idx)).map_err(internal)?;
            table
                .insert((ik.pk.as_str(), ik.sk.as_str(), key.pk.as_str(), key.sk.as_str()), ())
                .map_err(internal)?;
        }
    }
    Ok(())
}

fn unindex(txn: &redb::WriteTransaction, item: &Item, key: &Key) -> Result<(), StoreError> {
    for idx in Index::ALL {
        if let Some(ik) = idx.key_of(item) {
            let mut table = txn.open_table(index_table(idx)).map_err(internal)?;
            table
                .remove((ik.pk.as_str(), ik.sk.as_str(), key.pk.as_str(), key.sk.as_str()))
                .map_err(internal)?;
        }
    }
    Ok(())
}

/// Checks every condition against the state before the transaction, then applies every write;
/// nothing is applied unless all conditions hold. Returns the written items (None for deletes
/// and checks).
fn apply_all(
    db: &Database,
    ops: &[WriteOp],
    now: i64,
    durability: Durability,
) -> Result<Vec<Option<Item>>, StoreError> {
    let mut txn = db.begin_write().map_err(internal)?;
    txn.set_durability(durability).map_err(internal)?;
    let mut written = Vec::with_capacity(ops.len());
    {
        let mut items = txn.open_table(ITEMS).map_err(internal)?;
        let mut stored = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            let key = op.key();
            let current = read_item(&items, &key)?;
            let visible = current.clone().and_then(|i| live(i, now));
            if let Some(condition) = op.condition()
                && !condition.evaluate(visible.as_ref())
            {
                return Err(StoreError::ConditionFailed { index, current: visible.map(Box::new) });
            }
            stored.push((key, current));
        }
        for (position, (op, (key, current))) in ops.iter().zip(stored).enumerate() {
            let new_item = match op {
                WriteOp::Put { item, .. } => Some(item.clone()),
                // An expired item is absent, to updates too: they start from nothing.
                WriteOp::Update { actions, .. } => {
                    let base = current.clone().and_then(|i| live(i, now));
                    Some(apply_update(base.as_ref(), &key, actions)?)
                }
                WriteOp::Delete { .. } => None,
                WriteOp::Check { .. } => {
                    written.push(None);
                    continue;
                }
            };
            if let Some(item) = &new_item
                && item.size() > limits::ITEM_BYTES
            {
                return Err(StoreError::ItemTooLarge { index: position, size: item.size() });
            }
            if let Some(old) = &current {
                unindex(&txn, old, &key)?;
            }
            match &new_item {
                Some(item) => {
                    items
                        .insert((key.pk.as_str(), key.sk.as_str()), encode(item)?.as_slice())
                        .map_err(internal)?;
                    index(&txn, item, &key)?;
                }
                None => {
                    items.remove((key.pk.as_str(), key.sk.as_str())).map_err(internal)?;
                }
            }
            written.push(new_item);
        }
    }
    txn.commit().map_err(internal)?;
    Ok(written)
}

#[async_trait]
impl StoreBackend for EmbeddedStore {
    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        self.read(|db| {
            let txn = db.begin_read().map_err(internal)?;
            let items = txn.open_table(ITEMS).map_err(internal)?;
            Ok(read_item(&items, key)?.and_then(|i| live(i, now)))
        })
    }

    async fn get_many(&self, keys: &[Key], now: i64) -> Result<Vec<Item>, StoreError> {
        self.read(|db| {
            let txn = db.begin_read().map_err(internal)?;
            let items = txn.open_table(ITEMS).map_err(internal)?;
            let mut found = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some(item) = read_item(&items, key)?.and_then(|i| live(i, now)) {
                    found.push(item);
                }
            }
            Ok(found)
        })
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        self.read(|db| query_table(db, query, now))
    }

    async fn write(&self, op: &WriteOp, now: i64) -> Result<Option<Item>, StoreError> {
        self.write_one(op, now, Durability::Immediate).await
    }

    async fn write_relaxed(&self, op: &WriteOp, now: i64) -> Result<Option<Item>, StoreError> {
        self.write_one(op, now, self.relaxed.next()).await
    }

    async fn transact(&self, ops: &[WriteOp], now: i64) -> Result<(), StoreError> {
        let ops = ops.to_vec();
        self.run(move |db| apply_all(db, &ops, now, Durability::Immediate)).await.map(|_| ())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|db| {
            let txn = db.begin_read().map_err(internal)?;
            txn.open_table(ITEMS).map_err(internal)?;
            Ok(())
        })
    }
}

// Conditions are evaluated by the shared evaluator, so only the range logic needs its own tests
// here; the behaviour is covered by the conformance suite in tests/.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successors() {
        assert_eq!(prefix_successor("A#").as_deref(), Some("A$"));
        assert_eq!(prefix_successor("").as_deref(), None);
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    }

    #[test]
    fn bounds_follow_the_condition() {
        let (lo, hi) = sort_bounds(Some(&SortKey::BeginsWith("B".into())));
        assert_eq!((lo, hi), (Bound::Included("B".into()), Bound::Excluded("C".into())));
    }
}
