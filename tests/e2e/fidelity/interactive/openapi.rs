//! Meta's OpenAPI v23.0 as an oracle for the request bodies the tools build.
//!
//! The spec is vendored in `tests/openapi/` (MIT, with its licence) so a
//! fresh clone has it. It is OpenAPI 3.1, whose schemas are JSON Schema
//! 2020-12 plus two OpenAPI idioms a plain validator does not apply; `mended`
//! applies them and repairs the few schemas that contradict Meta's own
//! documentation and examples, each with its reason.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

const SCHEMAS: &str = "#/components/schemas/";

/// The vendored spec, parsed once.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/openapi/business-messaging-api_v23.0.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is readable: {e}", path.display()));
        serde_json::from_str(&text).expect("the vendored spec is JSON")
    })
}

/// The schema of an operation's JSON request body (after `$ref`).
pub fn request_schema(path: &str, method: &str) -> Value {
    let op = &spec()["paths"][path][method];
    let schema = op["requestBody"]["content"]["application/json"]["schema"].clone();
    assert!(
        schema.is_object(),
        "the spec has a JSON request body for {method} {path}"
    );
    schema
}

/// The spec's components, mended for a JSON Schema 2020-12 validator.
fn mended() -> &'static Value {
    static MENDED: OnceLock<Value> = OnceLock::new();
    MENDED.get_or_init(|| {
        let mut components = spec()["components"].clone();
        let schemas = components["schemas"]
            .as_object_mut()
            .expect("components.schemas");
        add_documented_template_components(schemas);
        apply_discriminators(schemas);
        close_all_of_on_the_whole(schemas);
        mend_known_defects(schemas);
        components
    })
}

/// Template send components and button kinds Meta documents that the spec's
/// TemplateComponent lacks: `carousel`
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates/media-card-carousel-templates),
/// `limited_time_offer` and its `copy_code` button with a `coupon_code`
/// parameter
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates/limited-time-offer-templates).
/// Added before the discriminators are applied, as subtypes like the spec's own.
fn add_documented_template_components(schemas: &mut Map<String, Value>) {
    let base = json!({"$ref": format!("{SCHEMAS}TemplateComponent")});
    schemas.insert(
        "CarouselComponent".into(),
        json!({"allOf": [base, {
            "type": "object",
            "required": ["cards"],
            "properties": {
                "type": {"enum": ["carousel"]},
                "cards": {"type": "array", "minItems": 1, "maxItems": 10, "items": {
                    "type": "object",
                    "required": ["card_index", "components"],
                    "additionalProperties": false,
                    "properties": {
                        "card_index": {"type": "integer", "minimum": 0, "maximum": 9},
                        "components": {"type": "array", "items": {"$ref": format!("{SCHEMAS}TemplateComponent")}}
                    }
                }}
            }
        }]}),
    );
    schemas.insert(
        "LimitedTimeOfferComponent".into(),
        json!({"allOf": [base, {
            "type": "object",
            "required": ["parameters"],
            "properties": {
                "type": {"enum": ["limited_time_offer"]},
                "parameters": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
                    "type": "object",
                    "required": ["type", "limited_time_offer"],
                    "additionalProperties": false,
                    "properties": {
                        "type": {"enum": ["limited_time_offer"]},
                        "limited_time_offer": {
                            "type": "object",
                            "required": ["expiration_time_ms"],
                            "additionalProperties": false,
                            "properties": {"expiration_time_ms": {"type": "integer"}}
                        }
                    }
                }}
            }
        }]}),
    );
    let component = &mut schemas["TemplateComponent"];
    for kind in ["carousel", "limited_time_offer"] {
        component["properties"]["type"]["enum"]
            .as_array_mut()
            .unwrap()
            .push(json!(kind));
    }
    component["discriminator"]["mapping"]["carousel"] =
        json!(format!("{SCHEMAS}CarouselComponent"));
    component["discriminator"]["mapping"]["limited_time_offer"] =
        json!(format!("{SCHEMAS}LimitedTimeOfferComponent"));
    schemas["TemplateComponent"]["properties"]["sub_type"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("copy_code"));
    schemas["ButtonComponent"]["allOf"][1]["properties"]["sub_type"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("copy_code"));
    schemas.insert(
        "ButtonCouponCodeParameter".into(),
        json!({"allOf": [{"$ref": format!("{SCHEMAS}ButtonParameterObject")}, {
            "type": "object",
            "required": ["coupon_code"],
            "properties": {"type": {"enum": ["coupon_code"]}, "coupon_code": {"type": "string", "maxLength": 15}}
        }]}),
    );
    let parameter = &mut schemas["ButtonParameterObject"];
    parameter["properties"]["type"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("coupon_code"));
    parameter["discriminator"]["mapping"]["coupon_code"] =
        json!(format!("{SCHEMAS}ButtonCouponCodeParameter"));
}

/// OpenAPI's `discriminator` picks the schema by a property's value; JSON
/// Schema ignores it. Where it sits beside a `oneOf`, the choice becomes an
/// explicit if/then per value. Where it sits on a base schema that its
/// subtypes extend with `allOf` (TemplateComponent, ParameterObject…), every
/// other use of the base dispatches to the subtype the same way.
fn apply_discriminators(schemas: &mut Map<String, Value>) {
    let mut bases: Vec<(String, Vec<String>)> = Vec::new();
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        let schema = schemas.get_mut(&name).unwrap();
        let Some(disc) = schema.get("discriminator").cloned() else {
            continue;
        };
        let dispatch = dispatch(&disc);
        let targets: Vec<String> = disc["mapping"]
            .as_object()
            .unwrap()
            .values()
            .map(|t| t.as_str().unwrap().trim_start_matches(SCHEMAS).to_string())
            .collect();
        let obj = schema.as_object_mut().unwrap();
        if obj.remove("oneOf").is_some() {
            obj.insert("allOf".into(), dispatch);
        } else {
            let mut dispatched = json!({"allOf": [{"$ref": format!("{SCHEMAS}{name}")}]});
            dispatched["allOf"]
                .as_array_mut()
                .unwrap()
                .extend(dispatch.as_array().unwrap().iter().cloned());
            schemas.insert(format!("{name}__dispatch"), dispatched);
            bases.push((name, targets));
        }
    }
    for (base, targets) in bases {
        let from = format!("{SCHEMAS}{base}");
        let to = format!("{SCHEMAS}{base}__dispatch");
        for (name, schema) in schemas.iter_mut() {
            if *name == format!("{base}__dispatch") {
                continue;
            }
            if targets.contains(name) {
                // The subtype's own `allOf: [base, …]` must keep the base.
                if let Some(parts) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
                    for part in parts.iter_mut().filter(|p| p.get("$ref").is_none()) {
                        rewrite_refs(part, &from, &to);
                    }
                }
                continue;
            }
            rewrite_refs(schema, &from, &to);
        }
    }
}

fn dispatch(disc: &Value) -> Value {
    let prop = disc["propertyName"].as_str().unwrap();
    let mapping = disc["mapping"].as_object().unwrap();
    let values: Vec<&String> = mapping.keys().collect();
    let mut parts = vec![json!({"required": [prop], "properties": {prop: {"enum": values}}})];
    for (value, target) in mapping {
        parts.push(json!({
            "if": {"properties": {prop: {"const": value}}, "required": [prop]},
            "then": {"$ref": target}
        }));
    }
    Value::Array(parts)
}

fn rewrite_refs(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "$ref" && x.as_str() == Some(from) {
                    *x = Value::from(to);
                } else {
                    rewrite_refs(x, from, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_refs(x, from, to)),
        _ => {}
    }
}

/// `allOf: [Base, {additionalProperties: false, …}]` means in the spec "no
/// property but Base's and these"; in JSON Schema the inner
/// `additionalProperties` sees only its own part and so refuses Base's
/// properties (`messaging_product`, `to`…) in every message. The intended
/// rule is `unevaluatedProperties: false` on the whole.
fn close_all_of_on_the_whole(schemas: &mut Map<String, Value>) {
    for schema in schemas.values_mut() {
        let Some(parts) = schema.get_mut("allOf").and_then(Value::as_array_mut) else {
            continue;
        };
        let mut closed = false;
        for part in parts.iter_mut() {
            if let Some(obj) = part.as_object_mut()
                && obj.get("additionalProperties") == Some(&Value::Bool(false))
            {
                obj.remove("additionalProperties");
                closed = true;
            }
        }
        if closed {
            schema["unevaluatedProperties"] = Value::Bool(false);
        }
    }
}

/// Schemas that contradict Meta's documentation (and the spec's own examples).
fn mend_known_defects(schemas: &mut Map<String, Value>) {
    // A template button's `index` is its position "0" to "9"
    // (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates);
    // the spec's pattern `^[2-6, 11-14]$` refuses "0", which the spec's own
    // examples ("Send Message Template Interactive", "Send Catalog Template
    // Message") send.
    schemas["TemplateComponent"]["properties"]["index"]["pattern"] = json!("^[0-9]$");
    schemas["ButtonComponent"]["allOf"][1]["properties"]["index"]["pattern"] = json!("^[0-9]$");

    // Interactive call-to-action URL button messages are documented at
    // https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-cta-url-messages
    // (`interactive.type: "cta_url"`, `action: {name: "cta_url", parameters:
    // {display_text ≤ 20, url}}`); the spec's InteractiveObject and
    // ActionObject omit them.
    schemas["InteractiveObject"]["properties"]["type"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("cta_url"));
    schemas["ActionObject"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "required": ["name", "parameters"],
            "properties": {
                "name": {"type": "string", "enum": ["cta_url"]},
                "parameters": {
                    "type": "object",
                    "required": ["display_text", "url"],
                    "properties": {
                        "display_text": {"type": "string", "minLength": 1, "maxLength": 20},
                        "url": {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}
                    },
                    "additionalProperties": false
                }
            }
        }));
}

/// The spec's example of a request body, by operation and example name.
pub fn request_example(path: &str, method: &str, name: &str) -> Value {
    let example = &spec()["paths"][path][method]["requestBody"]["content"]["application/json"]["examples"]
        [name]["value"];
    assert!(
        example.is_object(),
        "the spec has the example `{name}` for {method} {path}"
    );
    example.clone()
}

/// The read receipt body (`status: read`, with an optional typing
/// indicator) that `POST /{phone-number-id}/messages` takes
/// (https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators).
/// The spec's `Message` schema lacks it although the operation's own example
/// "Send typing indicator and read receipt" sends one; this schema is that
/// example's shape, and the example is checked against it.
pub fn read_receipt_schema() -> Value {
    json!({
        "type": "object",
        "required": ["messaging_product", "status", "message_id"],
        "additionalProperties": false,
        "properties": {
            "messaging_product": {"const": "whatsapp"},
            "status": {"const": "read"},
            "message_id": {"type": "string", "pattern": "^wamid\\.[!-~]+$"},
            "typing_indicator": {
                "type": "object",
                "required": ["type"],
                "additionalProperties": false,
                "properties": {"type": {"const": "text"}}
            }
        }
    })
}

/// A validator for `schema` (a request body schema from the spec) that
/// resolves `#/components/...` against the mended components.
pub fn validator(schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["components"] = mended().clone();
    jsonschema::draft202012::new(&root)
        .unwrap_or_else(|e| panic!("the mended spec is a valid JSON Schema: {e}"))
}

/// The validation errors of `body` against `validator`, readable.
pub fn errors(validator: &jsonschema::Validator, body: &Value) -> Vec<String> {
    validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}
