//! List pages: `limit` items, newest first, and an opaque `next_cursor` to ask for the next
//! page with (`cursor=`); `null` on the last page.

use serde::Serialize;

use crate::config::ApiConfig;
use crate::problem::ApiError;

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows fetched (the extra row only tells whether there is
    /// more); `cursor_of` gives the cursor that continues after an item.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more { rows.last().map(cursor_of) } else { None };
        Page { items: rows, next_cursor }
    }
}

/// The page size asked for, or the default; outside 1..=max_page_size it is refused.
pub fn page_limit(limit: Option<u32>, config: &ApiConfig) -> Result<i64, ApiError> {
    match limit {
        None => Ok(i64::from(config.default_page_size)),
        Some(n) if (1..=config.max_page_size).contains(&n) => Ok(i64::from(n)),
        Some(n) => Err(ApiError::BadRequest(format!(
            "limit {n} is out of range: ask for 1 to {} items",
            config.max_page_size
        ))),
    }
}

/// A cursor of a list ordered by numeric id.
pub fn id_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("cursor {c:?} is not one this API gave")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_row_makes_a_cursor() {
        let page = Page::from_rows(vec![5, 4, 3], 2, |n| n.to_string());
        assert_eq!(page.items, vec![5, 4]);
        assert_eq!(page.next_cursor.as_deref(), Some("4"));
        let last = Page::from_rows(vec![2, 1], 2, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn limits_are_checked() {
        let config = ApiConfig::default();
        assert_eq!(page_limit(None, &config).unwrap(), 100);
        assert_eq!(page_limit(Some(7), &config).unwrap(), 7);
        assert!(page_limit(Some(0), &config).is_err());
        assert!(page_limit(Some(1001), &config).is_err());
        assert!(id_cursor(Some("x")).is_err());
        assert_eq!(id_cursor(Some("9")).unwrap(), Some(9));
    }
}
