//! `/{v}/{waba-id}/message_templates` (list, create, delete) and `GET /{v}/{template-id}`.
//! https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates

use serde_json::{Map, Value, json};

use super::paging::paginate;
use super::request::GraphRequest;
use crate::graph_error::{GraphError, GraphResult};
use crate::model::template::Template;
use crate::model::templates::{self, TemplateFilter};
use crate::model::world::World;
use crate::util;

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| x.trim().to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

/// `GET /{v}/{waba-id}/message_templates`: filtered, paged, with an optional `summary`.
pub(crate) fn list(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    let filter = TemplateFilter {
        name: req.query("name").map(str::to_lowercase),
        statuses: req.query("status").map(|s| split_list(&s.to_uppercase())),
        categories: req.query("category").map(|s| split_list(&s.to_uppercase())),
        languages: req.query("language").map(split_list),
    };
    let fields = req.fields();
    let summary = req.query("summary").map(split_list);

    let (matching, total) = templates::list(world, &filter);
    let items: Vec<(u64, Value)> = matching
        .iter()
        .map(|t| (t.seq, template_json(t, fields.as_deref())))
        .collect();
    let mut out = paginate(&world.base_url, req, items)?;
    if let (Some(summary), Value::Object(map)) = (summary, &mut out) {
        let mut s = Map::new();
        for key in summary {
            match key.as_str() {
                "total_count" | "message_template_count" => {
                    s.insert(key, json!(total));
                }
                "message_template_limit" => {
                    s.insert(key, json!(250));
                }
                "are_translations_complete" => {
                    s.insert(key, json!(true));
                }
                _ => {}
            }
        }
        map.insert("summary".into(), Value::Object(s));
    }
    Ok(out)
}

/// `GET /{v}/{template-id}`; `None` when no template has this id.
pub(crate) fn get_by_id(world: &World, req: &GraphRequest, id: &str) -> Option<Value> {
    let t = templates::find(world, id)?;
    Some(template_json(&t, req.fields().as_deref()))
}

/// `POST /{v}/{waba-id}/message_templates`.
pub(crate) fn create(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    let t = templates::create(world, &req.params()?)?;
    Ok(json!({"id": t.id, "status": t.status.as_str(), "category": t.category}))
}

/// `DELETE /{v}/{waba-id}/message_templates?name=…[&hsm_id=…]`.
pub(crate) fn delete(world: &World, req: &GraphRequest) -> GraphResult<Value> {
    let params = req.params()?;
    let name = match params.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(GraphError::required_param("name")),
    };
    let hsm_id = match params.get("hsm_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(GraphError::invalid_param(
                "Param hsm_id must be a template id.",
            ));
        }
    };
    templates::delete(world, &name, hsm_id.as_deref())?;
    Ok(json!({"success": true}))
}

/// Every field the sandbox knows of a template; callers select.
fn full_json(t: &Template) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(t.id));
    m.insert("name".into(), json!(t.name));
    m.insert("language".into(), json!(t.language));
    m.insert("status".into(), json!(t.status.as_str()));
    m.insert("category".into(), json!(t.category));
    m.insert(
        "parameter_format".into(),
        json!(t.parameter_format.as_str()),
    );
    m.insert("components".into(), Value::Array(t.components.clone()));
    m.insert(
        "rejected_reason".into(),
        json!(t.rejected_reason.as_deref().unwrap_or("NONE")),
    );
    m.insert(
        "quality_score".into(),
        json!({"score": t.quality_score, "date": util::unix_secs(t.quality_score_at)}),
    );
    m.insert("previous_category".into(), json!(t.previous_category));
    m.insert("sub_category".into(), Value::Null);
    m
}

/// A template as Graph shows it: the default fields, or those asked for (`id` always).
fn template_json(t: &Template, fields: Option<&[String]>) -> Value {
    const DEFAULT: &[&str] = &[
        "id",
        "name",
        "language",
        "status",
        "category",
        "parameter_format",
        "components",
    ];
    let full = full_json(t);
    let mut out = Map::new();
    for (k, v) in full {
        let wanted = match fields {
            // Unknown requested fields are ignored (loose, on purpose); id always comes back.
            Some(f) => k == "id" || f.contains(&k),
            None => DEFAULT.contains(&k.as_str()),
        };
        if wanted && !v.is_null() {
            out.insert(k, v);
        }
    }
    Value::Object(out)
}
