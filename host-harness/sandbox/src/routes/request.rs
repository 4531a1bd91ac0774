//! One Graph request as the handlers see it: method, decoded path, query, and the body read as
//! Graph reads it (JSON, or a form whose JSON-looking values are parsed).

use bytes::Bytes;
use http::Method;
use serde_json::{Map, Value};

use crate::graph_error::{GraphError, GraphResult};
use crate::util;

/// One parsed Graph request.
pub(crate) struct GraphRequest {
    pub(crate) method: Method,
    /// Raw path, as received.
    pub(crate) path: String,
    /// Percent-decoded path segments; `segments[0]` is the version.
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) content_type: Option<String>,
    /// The `file_offset` header of a Resumable Upload.
    pub(crate) file_offset: Option<String>,
    pub(crate) body: Bytes,
}

impl GraphRequest {
    /// The last value of query parameter `name`.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        util::last_value(&self.query, name)
    }

    /// The body as JSON: a JSON document, or a form whose JSON-looking values are parsed (Graph
    /// accepts both). An empty body is an empty object.
    pub(crate) fn body_json(&self) -> GraphResult<Value> {
        let is_form = self.content_type.as_deref().is_some_and(|c| {
            c.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Value::Object(Map::new()));
        }
        if is_form {
            let mut map = Map::new();
            for (k, v) in url::form_urlencoded::parse(&self.body) {
                let trimmed = v.trim_start();
                let value = if trimmed.starts_with('[') || trimmed.starts_with('{') {
                    serde_json::from_str(&v).unwrap_or(Value::String(v.into_owned()))
                } else {
                    Value::String(v.into_owned())
                };
                map.insert(k.into_owned(), value);
            }
            return Ok(Value::Object(map));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            GraphError::invalid_param(format!("The request body is not valid JSON: {e}"))
        })
    }

    /// Query parameters overlaid with the body's fields (Graph merges both); the token is
    /// never a parameter.
    pub(crate) fn params(&self) -> GraphResult<Map<String, Value>> {
        let body = self.body_json()?;
        let Value::Object(body) = body else {
            return Err(GraphError::invalid_param(
                "The request body must be a JSON object.",
            ));
        };
        let mut map = Map::new();
        for (k, v) in &self.query {
            if k != "access_token" {
                map.insert(k.clone(), Value::String(v.clone()));
            }
        }
        map.extend(body);
        Ok(map)
    }

    /// `fields=a,b{c,d},e` split at top-level commas; `None` when absent or empty.
    pub(crate) fn fields(&self) -> Option<Vec<String>> {
        let raw = self.query("fields")?;
        let mut out = Vec::new();
        let mut depth = 0i32;
        let mut cur = String::new();
        for c in raw.chars() {
            match c {
                '{' => {
                    depth += 1;
                    cur.push(c);
                }
                '}' => {
                    depth -= 1;
                    cur.push(c);
                }
                ',' if depth <= 0 => {
                    let f = cur.trim().to_owned();
                    if !f.is_empty() {
                        out.push(f);
                    }
                    cur.clear();
                }
                _ => cur.push(c),
            }
        }
        let f = cur.trim().to_owned();
        if !f.is_empty() {
            out.push(f);
        }
        if out.is_empty() { None } else { Some(out) }
    }
}

/// The token of an `Authorization: Bearer …` (or `OAuth …`) header.
pub(crate) fn bearer_token(auth: Option<&str>) -> Option<&str> {
    let auth = auth?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    // Graph takes both `Bearer` and the older `OAuth` scheme.
    if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
        Some(token.trim())
    } else {
        None
    }
}
