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
