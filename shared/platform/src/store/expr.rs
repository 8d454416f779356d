//! Conditions and update actions as data. The DynamoDB adapter renders them to expressions;
//! the embedded adapter evaluates them with the functions here, so both agree by construction.

use std::cmp::Ordering;

use super::{Item, Key, StoreError, Value, attr};

/// A condition on one item, evaluated against its current state. An item whose TTL has passed
/// counts as absent.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists.
    Exists,
    /// The item does not exist.
    NotExists,
    /// The attribute is present.
    AttrExists(String),
    /// The attribute is absent.
    AttrNotExists(String),
    /// The attribute equals the value.
    Eq(String, Value),
    /// The attribute is absent or differs from the value.
    Ne(String, Value),
    /// The attribute is less than the value (same type).
    Lt(String, Value),
    /// The attribute is at most the value (same type).
    Le(String, Value),
    /// The attribute is greater than the value (same type).
    Gt(String, Value),
    /// The attribute is at least the value (same type).
    Ge(String, Value),
    /// All hold.
    And(Vec<Condition>),
    /// At least one holds.
    Or(Vec<Condition>),
    /// Does not hold.
    Not(Box<Condition>),
}

impl Condition {
    /// `attr = value`.
    pub fn eq(name: &str, value: impl Into<Value>) -> Condition {
        Condition::Eq(name.to_owned(), value.into())
    }

    /// Optimistic concurrency: the item exists with this `version`.
    pub fn version_is(version: i64) -> Condition {
        Condition::eq(attr::VERSION, version)
    }

    /// Evaluates against the item's current state (`None`: absent or expired).
    pub fn evaluate(&self, item: Option<&Item>) -> bool {
        let attr_of = |name: &str| item.and_then(|i| i.get(name));
        let compare = |name: &str, value: &Value, accept: fn(Ordering) -> bool| {
            attr_of(name).and_then(|current| compare_values(current, value)).is_some_and(accept)
        };
        match self {
            Condition::Exists => item.is_some(),
            Condition::NotExists => item.is_none(),
            Condition::AttrExists(name) => attr_of(name).is_some(),
            Condition::AttrNotExists(name) => attr_of(name).is_none(),
            Condition::Eq(name, value) => attr_of(name) == Some(value),
            Condition::Ne(name, value) => attr_of(name) != Some(value),
            Condition::Lt(name, value) => compare(name, value, Ordering::is_lt),
            Condition::Le(name, value) => compare(name, value, Ordering::is_le),
            Condition::Gt(name, value) => compare(name, value, Ordering::is_gt),
            Condition::Ge(name, value) => compare(name, value, Ordering::is_ge),
            Condition::And(all) => all.iter().all(|c| c.evaluate(item)),
            Condition::Or(any) => any.iter().any(|c| c.evaluate(item)),
            Condition::Not(c) => !c.evaluate(item),
        }
    }

    /// Attribute names the condition mentions.
    pub fn attributes(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.collect_attributes(&mut names);
        names
    }

    fn collect_attributes<'a>(&'a self, names: &mut Vec<&'a str>) {
        match self {
            Condition::Exists | Condition::NotExists => {}
            Condition::AttrExists(n) | Condition::AttrNotExists(n) => names.push(n),
            Condition::Eq(n, _)
            | Condition::Ne(n, _)
            | Condition::Lt(n, _)
            | Condition::Le(n, _)
            | Condition::Gt(n, _)
            | Condition::Ge(n, _) => names.push(n),
            Condition::And(cs) | Condition::Or(cs) => {
                cs.iter().for_each(|c| c.collect_attributes(names));
            }
            Condition::Not(c) => c.collect_attributes(names),
        }
    }
}

/// Orders two values of the same scalar type; `None` for mismatched or unordered types, which
/// makes the comparison false, as in DynamoDB.
pub fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::S(a), Value::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::N(a), Value::N(b)) => Some(a.cmp(b)),
        (Value::B(a), Value::B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// One action of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    /// Sets the attribute.
    Set(String, Value),
    /// Sets the attribute only if it is absent.
    SetIfNotExists(String, Value),
    /// Adds to a number attribute, treating an absent one as 0 (atomic counter).
    Add(String, i64),
    /// Removes the attribute.
    Remove(String),
}

impl UpdateAction {
    /// The attribute the action touches.
    pub fn attribute(&self) -> &str {
        match self {
            UpdateAction::Set(n, _)
            | UpdateAction::SetIfNotExists(n, _)
            | UpdateAction::Add(n, _)
            | UpdateAction::Remove(n) => n,
        }
    }
}

/// Applies update actions to an item's current state (`None`: absent or expired), as DynamoDB's
/// UpdateItem does: an absent item is created with the key and the updated attributes.
pub fn apply_update(current: Option<&Item>, key: &Key, actions: &[UpdateAction]) -> Result<Item, StoreError> {
    let mut item = current.cloned().unwrap_or_else(|| Item::new(key));
    for action in actions {
        match action {
            UpdateAction::Set(name, value) => item.set(name, value.clone()),
            UpdateAction::SetIfNotExists(name, value) => {
                if item.get(name).is_none() {
                    item.set(name, value.clone());
                }
            }
            UpdateAction::Add(name, delta) => {
                let base = match item.get(name) {
                    None => 0,
                    Some(Value::N(n)) => *n,
                    Some(_) => {
                        return Err(StoreError::Invalid(format!("ADD on non-number attribute `{name}`")));
                    }
                };
                let sum = base
                    .checked_add(*delta)
                    .ok_or_else(|| StoreError::Invalid(format!("ADD overflows attribute `{name}`")))?;
                item.set(name, sum);
            }
            UpdateAction::Remove(name) => {
                item.remove(name);
            }
        }
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        Item::new(&Key::new("P", "S")).with("n", 5).with("s", "b")
    }

    #[test]
    fn conditions_on_present_and_absent_items() {
        let it = item();
        assert!(Condition::Exists.evaluate(Some(&it)));
        assert!(Condition::NotExists.evaluate(None));
        assert!(Condition::eq("n", 5).evaluate(Some(&it)));
        assert!(!Condition::eq("n", 5).evaluate(None));
        assert!(Condition::Ne("n".into(), Value::N(5)).evaluate(None));
        assert!(Condition::Lt("n".into(), Value::N(6)).evaluate(Some(&it)));
        assert!(!Condition::Lt("n".into(), Value::S("6".into())).evaluate(Some(&it)));
        assert!(Condition::Ge("s".into(), Value::S("a".into())).evaluate(Some(&it)));
        assert!(Condition::AttrNotExists("x".into()).evaluate(Some(&it)));
        let either = Condition::Or(vec![Condition::NotExists, Condition::eq("n", 5)]);
        assert!(either.evaluate(Some(&it)) && either.evaluate(None));
        assert!(!Condition::Not(Box::new(either)).evaluate(None));
    }

    #[test]
    fn updates_create_add_and_remove() {
        let key = Key::new("P", "S");
        let created = apply_update(
            None,
            &key,
            &[UpdateAction::Add("count".into(), 1), UpdateAction::Set("a".into(), "x".into())],
        )
        .expect("applies");
        assert_eq!(created.key(), Some(key.clone()));
        assert_eq!(created.number("count").ok(), Some(1));
        let again = apply_update(
            Some(&created),
            &key,
            &[
                UpdateAction::Add("count".into(), 2),
                UpdateAction::SetIfNotExists("a".into(), "y".into()),
                UpdateAction::Remove("missing".into()),
            ],
        )
        .expect("applies");
        assert_eq!(again.number("count").ok(), Some(3));
        assert_eq!(again.string("a").ok(), Some("x"));
        let bad = apply_update(Some(&again), &key, &[UpdateAction::Add("a".into(), 1)]);
        assert!(matches!(bad, Err(StoreError::Invalid(_))));
    }
}
