//! Cursor paging as Graph does it: `limit`, opaque `before`/`after` cursors, `next` and
//! `previous` URLs.

use serde_json::{Map, Value, json};

use super::request::GraphRequest;
use crate::graph_error::{GraphError, GraphResult};
use crate::util;

/// Cursor paging over items already sorted by descending key (newest first).
pub(crate) fn paginate(
    base_url: &str,
    req: &GraphRequest,
    items: Vec<(u64, Value)>,
) -> GraphResult<Value> {
    let limit = match req.query("limit") {
        None => 25,
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => n as usize,
            // Graph refuses a page larger than the edge allows rather than cutting it.
            Ok(n) if n > 100 => {
                return Err(GraphError::invalid_param(format!(
                    "Param limit must be at most 100 - got \"{s}\"."
                )));
            }
            _ => {
                return Err(GraphError::invalid_param(format!(
                    "Param limit must be a positive integer - got \"{s}\"."
                )));
            }
        },
    };
    let decode = |name: &str| -> GraphResult<Option<u64>> {
        match req.query(name) {
            None => Ok(None),
            Some(c) => util::decode_cursor(c).map(Some).ok_or_else(|| {
                GraphError::invalid_param(format!("The {name} cursor is not valid: \"{c}\"."))
            }),
        }
    };
    let after = decode("after")?;
    let before = decode("before")?;
    let page: Vec<&(u64, Value)> = if let Some(a) = after {
        items.iter().filter(|(k, _)| *k < a).take(limit).collect()
    } else if let Some(b) = before {
        let newer: Vec<&(u64, Value)> = items.iter().filter(|(k, _)| *k > b).collect();
        let skip = newer.len().saturating_sub(limit);
        newer.into_iter().skip(skip).collect()
    } else {
        items.iter().take(limit).collect()
    };
    let data: Vec<Value> = page.iter().map(|(_, v)| v.clone()).collect();
    let mut out = Map::new();
    out.insert("data".into(), Value::Array(data));
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let (first_key, last_key) = (first.0, last.0);
        let has_newer = items.iter().any(|(k, _)| *k > first_key);
        let has_older = items.iter().any(|(k, _)| *k < last_key);
        let mut paging = Map::new();
        paging.insert(
            "cursors".into(),
            json!({"before": util::encode_cursor(first_key), "after": util::encode_cursor(last_key)}),
        );
        if has_older {
            paging.insert(
                "next".into(),
                json!(page_url(
                    base_url,
                    req,
                    "after",
                    &util::encode_cursor(last_key)
                )),
            );
        }
        if has_newer {
            paging.insert(
                "previous".into(),
                json!(page_url(
                    base_url,
                    req,
                    "before",
                    &util::encode_cursor(first_key)
                )),
            );
        }
        out.insert("paging".into(), Value::Object(paging));
    }
    Ok(Value::Object(out))
}

fn page_url(base_url: &str, req: &GraphRequest, key: &str, cursor: &str) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &req.query {
        if k != "after" && k != "before" {
            ser.append_pair(k, v);
        }
    }
    ser.append_pair(key, cursor);
    format!("{}{}?{}", base_url, req.path, ser.finish())
}
