//! Items and attribute values: the subset of DynamoDB's data model Atelier uses.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Key, StoreError, attr};

/// One attribute value. Numbers are integers: Atelier keeps money in minor units and rates in
/// basis points, never floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    /// UTF-8 string.
    S(String),
    /// Integer number.
    N(i64),
    /// Binary.
    B(Vec<u8>),
    /// Boolean.
    Bool(bool),
    /// Explicit null.
    Null,
    /// List.
    L(Vec<Value>),
    /// Map.
    M(BTreeMap<String, Value>),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::N(n) => Some(*n),
            _ => None,
        }
    }

    /// Size in bytes as DynamoDB counts it (numbers and containers approximated from above).
    pub fn size(&self) -> usize {
        match self {
            Value::S(s) => s.len(),
            Value::N(_) => 21,
            Value::B(b) => b.len(),
            Value::Bool(_) | Value::Null => 1,
            Value::L(l) => 3 + l.iter().map(|v| 1 + v.size()).sum::<usize>(),
            Value::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + v.size()).sum::<usize>(),
        }
    }

    fn from_json(json: serde_json::Value) -> Result<Value, StoreError> {
        Ok(match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::N(
                n.as_i64()
                    .ok_or_else(|| StoreError::Encode(format!("number {n} is not a 64-bit integer")))?,
            ),
            serde_json::Value::String(s) => Value::S(s),
            serde_json::Value::Array(a) => {
                Value::L(a.into_iter().map(Value::from_json).collect::<Result<_, _>>()?)
            }
            serde_json::Value::Object(o) => Value::M(
                o.into_iter()
                    .map(|(k, v)| Ok((k, Value::from_json(v)?)))
                    .collect::<Result<_, StoreError>>()?,
            ),
        })
    }

    fn into_json(self) -> serde_json::Value {
        match self {
            Value::S(s) => serde_json::Value::String(s),
            Value::N(n) => serde_json::Value::from(n),
            Value::B(b) => serde_json::Value::Array(b.into_iter().map(Into::into).collect()),
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Null => serde_json::Value::Null,
            Value::L(l) => serde_json::Value::Array(l.into_iter().map(Value::into_json).collect()),
            Value::M(m) => {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k, v.into_json())).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::N(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// An item: named attributes, including the key attributes `pk` and `sk`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Item(BTreeMap<String, Value>);

impl Item {
    /// An item with just its primary key.
    pub fn new(key: &Key) -> Item {
        let mut item = Item::default();
        item.set(attr::PK, key.pk.clone());
        item.set(attr::SK, key.sk.clone());
        item
    }

    /// An item holding a serialisable record's fields next to `key`. Fields named like key
    /// attributes are refused so a record can never move an item.
    pub fn from_record<T: Serialize>(key: &Key, record: &T) -> Result<Item, StoreError> {
        let json = serde_json::to_value(record).map_err(|e| StoreError::Encode(e.to_string()))?;
        let serde_json::Value::Object(fields) = json else {
            return Err(StoreError::Encode("a record must serialise to a map".into()));
        };
        let mut item = Item::new(key);
        for (name, value) in fields {
            if attr::is_reserved(&name) {
                return Err(StoreError::Encode(format!("record field `{name}` is reserved")));
            }
            if !value.is_null() {
                item.0.insert(name, Value::from_json(value)?);
            }
        }
        Ok(item)
    }

    /// Decodes the item's non-key attributes into a record.
    pub fn to_record<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        let map: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .filter(|(name, _)| !attr::is_reserved(name))
            .map(|(name, value)| (name.clone(), value.clone().into_json()))
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| StoreError::Decode(e.to_string()))
    }

    /// Builder-style `set`.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Item {
        self.set(name, value);
        self
    }

    /// Sets an attribute.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.0.insert(name.to_owned(), value.into());
    }

    /// Removes an attribute.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    /// An attribute.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A string attribute, or a decode error naming it.
    pub fn string(&self, name: &str) -> Result<&str, StoreError> {
        self.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Decode(format!("attribute `{name}` is not a string")))
    }

    /// A number attribute, or a decode error naming it.
    pub fn number(&self, name: &str) -> Result<i64, StoreError> {
        self.get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| StoreError::Decode(format!("attribute `{name}` is not a number")))
    }

    /// The item's primary key, if both key attributes are strings.
    pub fn key(&self) -> Option<Key> {
        Some(Key {
            pk: self.get(attr::PK)?.as_str()?.to_owned(),
            sk: self.get(attr::SK)?.as_str()?.to_owned(),
        })
    }

    /// The TTL instant (epoch seconds), if the item has one.
    pub fn expires_at(&self) -> Option<i64> {
        self.get(attr::TTL).and_then(Value::as_i64)
    }

    /// Whether the item's TTL has passed at `now` (epoch seconds). DynamoDB deletes expired
    /// items up to days late, so every read checks this itself.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at().is_some_and(|t| t <= now)
    }

    /// Size in bytes as DynamoDB counts it.
    pub fn size(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.size()).sum()
    }

    /// Iterates over the attributes.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }
}

impl IntoIterator for Item {
    type Item = (String, Value);
    type IntoIter = std::collections::btree_map::IntoIter<String, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<(String, Value)> for Item {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Item(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        name: String,
        price: i64,
        tags: Vec<String>,
        note: Option<String>,
    }

    #[test]
    fn records_round_trip_and_leave_out_nulls() {
        let key = Key::new("A", "B");
        let record = Record { name: "Cut".into(), price: 2500, tags: vec!["x".into()], note: None };
        let item = Item::from_record(&key, &record).expect("encodes");
        assert_eq!(item.key(), Some(key));
        assert!(item.get("note").is_none());
        assert_eq!(item.to_record::<Record>().expect("decodes"), record);
    }

    #[test]
    fn records_cannot_write_key_attributes() {
        #[derive(Serialize)]
        struct Sneaky {
            pk: String,
        }
        let err = Item::from_record(&Key::new("A", "B"), &Sneaky { pk: "X".into() });
        assert!(matches!(err, Err(StoreError::Encode(_))));
    }

    #[test]
    fn floats_are_refused() {
        #[derive(Serialize)]
        struct Float {
            rate: f64,
        }
        let err = Item::from_record(&Key::new("A", "B"), &Float { rate: 0.5 });
        assert!(matches!(err, Err(StoreError::Encode(_))));
    }

    #[test]
    fn expiry_is_inclusive() {
        let item = Item::new(&Key::new("A", "B")).with(attr::TTL, 100);
        assert!(!item.is_expired(99));
        assert!(item.is_expired(100));
    }
}
