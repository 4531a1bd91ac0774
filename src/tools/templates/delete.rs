//! whatsapp_delete_template: one language version by id, or every version of a name.

use serde_json::{Map, Value};

use crate::args::Args;
use crate::checks::{check_digits, check_template_name};
use crate::error::ToolError;
use crate::graph::{Graph, MANAGE};
use crate::host::Host;
use crate::settings;

pub(crate) fn delete_template(host: &dyn Host, args: &Args) -> Result<Value, ToolError> {
    let name = args.str_req("name", "\"order_update\"")?;
    check_template_name("name", name)?;
    let template_id = args.str_opt("template_id")?;
    if let Some(id) = template_id {
        check_digits(
            "template_id",
            id,
            32,
            "a template id",
            "\"1192339204654487\"",
        )?;
    }
    let waba = settings::waba_id(host)?;
    let graph = Graph::new(host)?;
    let mut query = vec![("name", name.to_string())];
    if let Some(id) = template_id {
        query.push(("hsm_id", id.to_string()));
    }
    let resp = graph.delete(&format!("{waba}/message_templates"), &query, MANAGE)?;
    let success = resp
        .get("success")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut out = Map::new();
    out.insert("success".into(), Value::from(success));
    out.insert("name".into(), Value::from(name));
    if let Some(id) = template_id {
        out.insert("template_id".into(), Value::from(id));
    }
    out.insert(
        "scope".into(),
        Value::from(if template_id.is_some() {
            "single"
        } else {
            "all_languages"
        }),
    );
    Ok(Value::Object(out))
}
