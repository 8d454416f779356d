//! Queries: one partition, an optional sort-key condition, an order, a page size and a cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{Item, Key, StoreError, attr};

/// A secondary index of the single table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// `gsi1` on (`gsi1pk`, `gsi1sk`).
    Gsi1,
    /// `gsi2` on (`gsi2pk`, `gsi2sk`).
    Gsi2,
}

impl Index {
    /// Every index, in table-definition order.
    pub const ALL: [Index; 2] = [Index::Gsi1, Index::Gsi2];

    /// The index name.
    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
        }
    }

    /// Its partition and sort key attributes.
    pub fn key_attributes(self) -> (&'static str, &'static str) {
        match self {
            Index::Gsi1 => (attr::GSI1PK, attr::GSI1SK),
            Index::Gsi2 => (attr::GSI2PK, attr::GSI2SK),
        }
    }

    /// The item's key in this index, if it is projected into it (both attributes present).
    pub fn key_of(self, item: &Item) -> Option<Key> {
        let (pk, sk) = self.key_attributes();
        Some(Key::new(item.get(pk)?.as_str()?, item.get(sk)?.as_str()?))
    }
}

/// A condition on the sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    /// Equal.
    Eq(String),
    /// Starts with.
    BeginsWith(String),
    /// Between, both ends included.
    Between(String, String),
    /// Less than.
    Lt(String),
    /// At most.
    Le(String),
    /// Greater than.
    Gt(String),
    /// At least.
    Ge(String),
}

impl SortKey {
    /// Whether a sort key value satisfies the condition (byte order, as DynamoDB).
    pub fn matches(&self, sk: &str) -> bool {
        let sk = sk.as_bytes();
        match self {
            SortKey::Eq(v) => sk == v.as_bytes(),
            SortKey::BeginsWith(p) => sk.starts_with(p.as_bytes()),
            SortKey::Between(a, b) => a.as_bytes() <= sk && sk <= b.as_bytes(),
            SortKey::Lt(v) => sk < v.as_bytes(),
            SortKey::Le(v) => sk <= v.as_bytes(),
            SortKey::Gt(v) => sk > v.as_bytes(),
            SortKey::Ge(v) => sk >= v.as_bytes(),
        }
    }
}

/// Sort order of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Ascending sort key.
    #[default]
    Ascending,
    /// Descending sort key.
    Descending,
}

/// Where a page ended: the last item's table key, and its index key for index queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Table partition key of the last item.
    pub pk: String,
    /// Table sort key of the last item.
    pub sk: String,
    /// Index key of the last item, for index queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_key: Option<(String, String)>,
}

impl Cursor {
    /// The cursor after `item` for a query on `index`.
    pub fn after(item: &Item, index: Option<Index>) -> Option<Cursor> {
        let key = item.key()?;
        let index_key = match index {
            None => None,
            Some(i) => {
                let k = i.key_of(item)?;
                Some((k.pk, k.sk))
            }
        };
        Some(Cursor { pk: key.pk, sk: key.sk, index_key })
    }

    /// Opaque text for clients.
    pub fn encode(&self) -> String {
        // Serialising plain strings cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses what [`Cursor::encode`] produced.
    pub fn decode(text: &str) -> Result<Cursor, StoreError> {
        if text.len() > 4096 {
            return Err(StoreError::InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| StoreError::InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)
    }

    /// The position the cursor marks in the queried key space (index key for index queries).
    pub fn position(&self) -> (&str, &str) {
        match &self.index_key {
            Some((pk, sk)) => (pk, sk),
            None => (&self.pk, &self.sk),
        }
    }
}

/// A query of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The table, or one of its indexes.
    pub index: Option<Index>,
    /// The partition.
    pub pk: String,
    /// Sort-key condition.
    pub sort: Option<SortKey>,
    /// Order.
    pub order: Order,
    /// Page size, at least 1.
    pub limit: u32,
    /// Continue after this position.
    pub cursor: Option<Cursor>,
}

impl Query {
    /// Every item of a partition of the table, ascending, 100 a page.
    pub fn partition(pk: impl Into<String>) -> Query {
        Query { index: None, pk: pk.into(), sort: None, order: Order::Ascending, limit: 100, cursor: None }
    }

    /// The same query on an index.
    pub fn on(mut self, index: Index) -> Query {
        self.index = Some(index);
        self
    }

    /// With a sort-key condition.
    pub fn sort(mut self, sort: SortKey) -> Query {
        self.sort = Some(sort);
        self
    }

    /// Descending.
    pub fn descending(mut self) -> Query {
        self.order = Order::Descending;
        self
    }

    /// With a page size.
    pub fn limit(mut self, limit: u32) -> Query {
        self.limit = limit;
        self
    }

    /// Continuing after a cursor.
    pub fn after(mut self, cursor: Cursor) -> Query {
        self.cursor = Some(cursor);
        self
    }

    /// Checks the query and that its cursor belongs to it.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.pk.is_empty() {
            return Err(StoreError::Invalid("query without partition key".into()));
        }
        if self.limit == 0 {
            return Err(StoreError::Invalid("query limit must be at least 1".into()));
        }
        if let Some(SortKey::Between(a, b)) = &self.sort
            && a > b
        {
            return Err(StoreError::Invalid("BETWEEN bounds are reversed".into()));
        }
        if let Some(cursor) = &self.cursor {
            if cursor.index_key.is_some() != self.index.is_some() {
                return Err(StoreError::InvalidCursor);
            }
            let (pk, sk) = cursor.position();
            let sort_ok = self.sort.as_ref().is_none_or(|s| s.matches(sk));
            if pk != self.pk || !sort_ok || cursor.pk.is_empty() || cursor.sk.is_empty() {
                return Err(StoreError::InvalidCursor);
            }
        }
        Ok(())
    }
}

/// One page of results.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Items in query order.
    pub items: Vec<Item>,
    /// Set when more items may follow.
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_conditions_use_byte_order() {
        assert!(SortKey::BeginsWith("A#".into()).matches("A#1"));
        assert!(!SortKey::BeginsWith("A#".into()).matches("A"));
        assert!(SortKey::Between("b".into(), "d".into()).matches("d"));
        assert!(!SortKey::Between("b".into(), "d".into()).matches("da"));
        assert!(SortKey::Lt("Z".into()).matches("A"));
        assert!(SortKey::Gt("Z".into()).matches("a"));
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor { pk: "P".into(), sk: "S".into(), index_key: Some(("I".into(), "J".into())) };
        assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
        assert!(Cursor::decode("not base64!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(b"{}")).is_err());
    }

    #[test]
    fn cursors_from_other_queries_are_refused() {
        let cursor = Cursor { pk: "P".into(), sk: "B#2".into(), index_key: None };
        let q = Query::partition("P").sort(SortKey::BeginsWith("B#".into()));
        assert!(q.clone().after(cursor.clone()).validate().is_ok());
        assert!(Query::partition("Q").after(cursor.clone()).validate().is_err());
        assert!(q.clone().on(Index::Gsi1).after(cursor.clone()).validate().is_err());
        let outside = Query::partition("P").sort(SortKey::BeginsWith("C#".into()));
        assert!(outside.after(cursor).validate().is_err());
    }
}
