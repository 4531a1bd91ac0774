use serde_json::Value;

use crate::descriptors::{Category, descriptors};
use crate::tools::Tool;

#[test]
fn there_are_thirteen_tools_in_the_stable_wit_order() {
    let d = descriptors();
    let names: Vec<_> = d.iter().map(|d| d.name).collect();
    assert_eq!(
        names,
        [
            "whatsapp_get_message_status",
            "whatsapp_list_templates",
            "whatsapp_get_business_profile",
            "whatsapp_send_message",
            "whatsapp_send_template",
            "whatsapp_send_media",
            "whatsapp_create_template",
            "whatsapp_update_business_profile",
            "whatsapp_delete_template",
            "whatsapp_list_conversations",
            "whatsapp_get_messages",
            "whatsapp_mark_as_read",
            "whatsapp_send_reaction",
        ]
    );
    let from_wit: Vec<_> = Tool::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(from_wit, names, "the WIT enum and the descriptors agree");
}

#[test]
fn tools_are_found_by_their_name_and_only_by_it() {
    for tool in Tool::ALL {
        assert_eq!(Tool::from_name(tool.name()), Some(tool));
    }
    assert_eq!(Tool::from_name("whatsapp_send_fax"), None);
    assert_eq!(Tool::from_name("WHATSAPP_SEND_MESSAGE"), None);
}

#[test]
fn argument_names_are_the_input_schema_properties_in_schema_order() {
    let send: Value = serde_json::from_str(Tool::SendMessage.input_schema()).unwrap();
    assert_eq!(
        Tool::SendMessage.argument_names(),
        [
            "to",
            "text",
            "preview_url",
            "reply_to",
            "buttons",
            "list",
            "cta_url",
            "header",
            "footer"
        ]
    );
    assert_eq!(send["properties"].as_object().unwrap().len(), 9);
    for tool in Tool::ALL {
        let schema: Value = serde_json::from_str(tool.input_schema()).unwrap();
        let mut from_schema: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut names = tool.argument_names().to_vec();
        from_schema.sort_unstable();
        names.sort_unstable();
        assert_eq!(names, from_schema, "{}", tool.name());
    }
}

#[test]
fn titles_and_descriptions_come_from_the_wit_docs() {
    let d = descriptors();
    assert_eq!(d[0].title, "Get message status");
    assert_eq!(d[3].title, "Send a text message");
    assert!(
        d[3].description.starts_with(
            "Send a free-form text message (up to 4096 characters) to a WhatsApp user."
        )
    );
    assert!(!d[3].description.contains("\n"), "wrapped lines are joined");
    for t in &d {
        assert!(
            !t.title.is_empty() && t.description.len() > 40,
            "{}",
            t.name
        );
        assert!(t.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    }
}

#[test]
fn categories_annotations_and_scopes_are_exact() {
    let expect = [
        (
            "whatsapp_get_message_status",
            Category::Read,
            [true, false, true, false],
        ),
        (
            "whatsapp_list_templates",
            Category::Read,
            [true, false, true, true],
        ),
        (
            "whatsapp_get_business_profile",
            Category::Read,
            [true, false, true, true],
        ),
        (
            "whatsapp_send_message",
            Category::Write,
            [false, false, false, true],
        ),
        (
            "whatsapp_send_template",
            Category::Write,
            [false, false, false, true],
        ),
        (
            "whatsapp_send_media",
            Category::Write,
            [false, false, false, true],
        ),
        (
            "whatsapp_create_template",
            Category::Write,
            [false, false, false, true],
        ),
        (
            "whatsapp_update_business_profile",
            Category::Write,
            [false, true, true, true],
        ),
        (
            "whatsapp_delete_template",
            Category::Delete,
            [false, true, true, true],
        ),
        (
            "whatsapp_list_conversations",
            Category::Read,
            [true, false, true, false],
        ),
        (
            "whatsapp_get_messages",
            Category::Read,
            [true, false, true, false],
        ),
        (
            "whatsapp_mark_as_read",
            Category::Write,
            [false, false, true, true],
        ),
        (
            "whatsapp_send_reaction",
            Category::Write,
            [false, false, false, true],
        ),
    ];
    assert_eq!(descriptors().len(), expect.len());
    for (d, (name, cat, ann)) in descriptors().iter().zip(expect) {
        assert_eq!(d.name, name);
        assert_eq!(d.category, cat, "{name}");
        let a = d.annotations;
        assert_eq!(
            [a.read_only, a.destructive, a.idempotent, a.open_world],
            ann,
            "{name}"
        );
        let scopes = d.scopes;
        let inbox = ["conversations", "messages", "mark_as_read"];
        if name.contains("send")
            || name.contains("message_status")
            || inbox.iter().any(|i| name.ends_with(i))
        {
            assert_eq!(scopes, ["whatsapp_business_messaging"], "{name}");
        } else if name.contains("template") {
            assert_eq!(scopes, ["whatsapp_business_management"], "{name}");
        } else {
            assert_eq!(
                scopes,
                [
                    "whatsapp_business_management",
                    "whatsapp_business_messaging"
                ],
                "{name}"
            );
        }
    }
}

/// Walks a schema checking portability rules: no `$ref`, and objects with
/// properties are closed at the top level.
fn walk(v: &Value, path: &str) {
    if let Value::Object(m) = v {
        assert!(!m.contains_key("$ref"), "{path}: $ref");
        for (k, child) in m {
            walk(child, &format!("{path}/{k}"));
        }
    } else if let Value::Array(a) = v {
        for (i, child) in a.iter().enumerate() {
            walk(child, &format!("{path}/{i}"));
        }
    }
}

#[test]
fn schemas_are_valid_closed_2020_12_objects() {
    for d in descriptors() {
        for (which, text) in [("input", d.input_schema), ("output", d.output_schema)] {
            let s: Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{} {which}: {e}", d.name));
            assert_eq!(
                s["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{} {which}",
                d.name
            );
            assert_eq!(s["type"], "object", "{} {which}", d.name);
            assert_eq!(s["additionalProperties"], false, "{} {which}", d.name);
            for k in ["oneOf", "anyOf", "allOf", "not", "if"] {
                assert!(s.get(k).is_none(), "{} {which}: top-level {k}", d.name);
            }
            walk(&s, d.name);
            // Every property has a description in input schemas; required names exist.
            let props = s["properties"].as_object().unwrap();
            if which == "input" {
                for (k, p) in props {
                    assert!(
                        p.get("description").is_some(),
                        "{} input property {k} lacks a description",
                        d.name
                    );
                }
            }
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                assert!(
                    props.contains_key(r.as_str().unwrap()),
                    "{} {which}: required {r} not a property",
                    d.name
                );
            }
        }
    }
}

#[test]
fn input_schema_examples_satisfy_their_own_schemas() {
    for d in descriptors() {
        let s: Value = serde_json::from_str(d.input_schema).unwrap();
        for (k, p) in s["properties"].as_object().unwrap() {
            for ex in p
                .get("examples")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Err(e) = crate::testing::check_schema(p, ex) {
                    panic!("{} property {k} example {ex}: {e}", d.name);
                }
            }
        }
    }
}
