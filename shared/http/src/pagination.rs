//! Cursor pagination shared by every list: `?limit=&cursor=` in, `next_cursor` out.

use atelier_platform::AppError;
use atelier_platform::store::{Cursor, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;

/// Page parameters of a list request.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 20). Checked as the query is read, so a list that
    /// turns out empty still refuses a bad limit.
    #[serde(default, deserialize_with = "limit_in_range")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn limit_in_range<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let limit = Option::<u32>::deserialize(deserializer)?;
    match limit {
        Some(n) if !(1..=MAX_LIMIT).contains(&n) => {
            Err(serde::de::Error::custom(format!("limit must be between 1 and {MAX_LIMIT}")))
        }
        _ => Ok(limit),
    }
}

impl PageParams {
    /// Applies the parameters to a query; a bad limit or cursor is a 400.
    pub fn apply(&self, query: Query) -> Result<Query, AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        let query = query.limit(limit);
        let query = match &self.cursor {
            Some(text) => {
                query.after(Cursor::decode(text).map_err(|_| AppError::BadRequest("invalid cursor".into()))?)
            }
            None => query,
        };
        query.validate().map_err(|_| AppError::BadRequest("invalid cursor".into()))?;
        Ok(query)
    }
}

impl PageParams {
    /// A page of a bounded collection read whole (a studio's members, its resources, one
    /// professional's exceptions in a range): ordered by `key`, cut after the cursor's key, so
    /// every list answers in the same shape with the same parameters. The cursor is the last
    /// key of the page, hex-encoded (opaque to clients).
    pub fn slice<T>(&self, mut items: Vec<T>, key: impl Fn(&T) -> String) -> Result<Page<T>, AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT) as usize;
        let after = match &self.cursor {
            Some(text) => {
                Some(decode_key(text).ok_or_else(|| AppError::BadRequest("invalid cursor".into()))?)
            }
            None => None,
        };
        items.sort_by_key(|item| key(item));
        let mut rest: Vec<T> =
            items.into_iter().filter(|item| after.as_ref().is_none_or(|a| key(item) > *a)).collect();
        let more = rest.len() > limit;
        rest.truncate(limit);
        let next_cursor = if more { rest.last().map(|last| encode_key(&key(last))) } else { None };
        Ok(Page { items: rest, next_cursor })
    }
}

fn encode_key(key: &str) -> String {
    format!("k{}", key.bytes().map(|b| format!("{b:02x}")).collect::<String>())
}

fn decode_key(text: &str) -> Option<String> {
    let hex = text.strip_prefix('k')?;
    if hex.len() % 2 != 0 || hex.len() > 1024 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from items and the store's next cursor.
    pub fn new(items: Vec<T>, next: Option<Cursor>) -> Page<T> {
        Page { items, next_cursor: next.map(|c| c.encode()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_collections_page_by_key() {
        let params = |limit, cursor: Option<String>| PageParams { limit: Some(limit), cursor };
        let first = params(2, None).slice(vec!["c", "a", "d", "b"], |s| (*s).to_owned()).expect("page");
        assert_eq!(first.items, ["a", "b"]);
        let next = first.next_cursor.expect("more");
        let second =
            params(2, Some(next)).slice(vec!["d", "c", "b", "a"], |s| (*s).to_owned()).expect("page");
        assert_eq!((second.items, second.next_cursor), (vec!["c", "d"], None));
        assert!(params(2, Some("zz".into())).slice(vec!["a"], |s| (*s).to_owned()).is_err());
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        let base = Query::partition("P");
        assert_eq!(PageParams::default().apply(base.clone()).expect("defaults").limit, DEFAULT_LIMIT);
        for bad in [0, MAX_LIMIT + 1] {
            let params = PageParams { limit: Some(bad), cursor: None };
            assert!(matches!(params.apply(base.clone()), Err(AppError::BadRequest(_))), "limit {bad}");
        }
        let garbage = PageParams { limit: None, cursor: Some("%%%".into()) };
        assert!(matches!(garbage.apply(base.clone()), Err(AppError::BadRequest(_))));
        let foreign = Cursor { pk: "OTHER".into(), sk: "x".into(), index_key: None }.encode();
        let stolen = PageParams { limit: None, cursor: Some(foreign) };
        assert!(
            matches!(stolen.apply(base.clone()), Err(AppError::BadRequest(_))),
            "a cursor from another list"
        );
        let own = Cursor { pk: "P".into(), sk: "x".into(), index_key: None };
        let next = PageParams { limit: Some(5), cursor: Some(own.encode()) }.apply(base).expect("valid");
        assert_eq!((next.limit, next.cursor), (5, Some(own)));
    }
}
