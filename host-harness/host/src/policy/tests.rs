use std::cell::RefCell;
use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;
use crate::tool::{Category, ErrorKind};

/// The connector's nine tools, as the policy sees them.
fn tools() -> Vec<ToolInfo> {
    let t = |name: &str, category, fields: &[&str]| ToolInfo {
        name: name.into(),
        category,
        fields: fields.iter().map(|f| f.to_string()).collect(),
    };
    vec![
        t(
            "whatsapp_get_message_status",
            Category::Read,
            &["message_id"],
        ),
        t(
            "whatsapp_list_templates",
            Category::Read,
            &["status", "category", "language", "name", "limit", "after"],
        ),
        t("whatsapp_get_business_profile", Category::Read, &["fields"]),
        t(
            "whatsapp_send_message",
            Category::Write,
            &["to", "text", "preview_url", "reply_to"],
        ),
        t(
            "whatsapp_send_template",
            Category::Write,
            &[
                "to",
                "name",
                "language",
                "body_parameters",
                "header_parameters",
                "components",
            ],
        ),
        t(
            "whatsapp_send_media",
            Category::Write,
            &[
                "to",
                "media_type",
                "link",
                "media_id",
                "caption",
                "filename",
            ],
        ),
        t(
            "whatsapp_create_template",
            Category::Write,
            &["name", "language", "category", "components"],
        ),
        t(
            "whatsapp_update_business_profile",
            Category::Write,
            &["about", "description", "email", "websites"],
        ),
        t(
            "whatsapp_delete_template",
            Category::Delete,
            &["name", "template_id"],
        ),
    ]
}

const SENDS: &str = r#"["whatsapp_send_message", "whatsapp_send_template", "whatsapp_send_media"]"#;

/// A policy with one app `bot` (all tools) carrying `rules` (TOML).
fn with_app_rules(rules: &str) -> Policy {
    let text = format!("[[apps]]\nname = \"bot\"\ntools = [\"*\"]\n{rules}");
    Policy::parse(&text, "test.toml", &tools()).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(text: &str) -> String {
    match Policy::parse(text, "test.toml", &tools()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn rule_err(rules: &str) -> String {
    load_err(&format!(
        "[[apps]]\nname = \"bot\"\ntools = [\"*\"]\n{rules}"
    ))
}

fn noon() -> Timestamp {
    "2026-11-04T12:00:00Z".parse().unwrap()
}

fn decide(policy: &Policy, tool: &str, args: Value) -> Verdict {
    decide_as(policy, "bot", tool, args, noon(), &NoCounters)
}

fn decide_as(
    policy: &Policy,
    app: &str,
    tool: &str,
    args: Value,
    now: Timestamp,
    counters: &dyn Counters,
) -> Verdict {
    policy.evaluate(
        &Call {
            app,
            tool,
            args: &args,
            now,
            template: None,
        },
        counters,
    )
}

fn denied_by(verdict: &Verdict) -> Option<&str> {
    match verdict {
        Verdict::Deny(d) => Some(d.rule.as_str()),
        Verdict::Allow(_) => None,
    }
}

#[track_caller]
fn assert_allowed(verdict: Verdict) {
    assert!(matches!(verdict, Verdict::Allow(_)), "{verdict:?}");
}

#[track_caller]
fn assert_denied(verdict: Verdict, rule: &str) -> Denial {
    match verdict {
        Verdict::Deny(d) if d.rule == rule => d,
        other => panic!("expected a denial by `{rule}`, got {other:?}"),
    }
}

fn send(to: &str) -> Value {
    json!({"to": to, "text": "Hello"})
}

// ---- apps and enablement ---------------------------------------------------

#[test]
fn the_open_policy_enables_every_tool_for_the_default_app() {
    let policy = Policy::open(&tools());
    let app = policy.app(OPEN_APP).unwrap();
    assert_eq!(app.tools().len(), 9);
    assert!(policy.is_open());
    assert_allowed(decide_as(
        &policy,
        OPEN_APP,
        "whatsapp_delete_template",
        json!({"name": "x"}),
        noon(),
        &NoCounters,
    ));
}

#[test]
fn tools_can_be_enabled_by_name_and_by_category_in_the_component_order() {
    let policy = Policy::parse(
        "[[apps]]\nname = \"a\"\ntools = [\"whatsapp_send_media\", \"read\"]",
        "t",
        &tools(),
    )
    .unwrap();
    assert_eq!(
        policy.app("a").unwrap().tools(),
        [
            "whatsapp_get_message_status",
            "whatsapp_list_templates",
            "whatsapp_get_business_profile",
            "whatsapp_send_media"
        ]
    );
}

#[test]
fn a_tool_that_is_not_enabled_is_denied_with_the_enabled_tools_in_the_hint() {
    let policy =
        Policy::parse("[[apps]]\nname = \"a\"\ntools = [\"read\"]", "t", &tools()).unwrap();
    let d = assert_denied(
        decide_as(
            &policy,
            "a",
            "whatsapp_send_message",
            send("+16505551234"),
            noon(),
            &NoCounters,
        ),
        TOOL_NOT_ENABLED,
    );
    assert_eq!(d.layer, Layer::Enablement);
    assert!(d.hint.contains("whatsapp_list_templates"), "{}", d.hint);
    let e = d.to_tool_error();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(e.rule.as_deref(), Some(TOOL_NOT_ENABLED));
}

#[test]
fn an_app_missing_from_the_policy_is_denied() {
    let policy = with_app_rules("");
    assert_denied(
        decide_as(
            &policy,
            "ghost",
            "whatsapp_list_templates",
            json!({}),
            noon(),
            &NoCounters,
        ),
        UNKNOWN_APP,
    );
}

#[test]
fn a_key_authenticates_its_own_app_only_and_apps_without_a_key_never() {
    let text = format!(
        "[[apps]]\nname = \"a\"\nkey_hash = \"{}\"\ntools = [\"read\"]\n\
         [[apps]]\nname = \"b\"\nkey_hash = \"{}\"\ntools = [\"write\"]\n\
         [[apps]]\nname = \"local\"\ntools = [\"*\"]\n",
        hash_key("key-a-0123456789"),
        hash_key("key-b-0123456789")
            .to_uppercase()
            .replace("SHA256:", "sha256:")
    );
    let policy = Policy::parse(&text, "t", &tools()).unwrap();
    assert_eq!(policy.authenticate("key-a-0123456789").unwrap().name(), "a");
    assert_eq!(policy.authenticate("key-b-0123456789").unwrap().name(), "b");
    for wrong in [
        "",
        "key-a-012345678",
        "key-a-0123456789 ",
        "KEY-A-0123456789",
    ] {
        assert!(policy.authenticate(wrong).is_none(), "{wrong:?}");
    }
    assert!(!policy.app("local").unwrap().has_key());
}

#[test]
fn hash_key_is_sha256_in_hex() {
    assert_eq!(
        hash_key("test"),
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
}

// ---- first deny wins -------------------------------------------------------

#[test]
fn first_deny_wins_enablement_then_global_then_app_rules_in_file_order() {
    let text = r#"
[[rules]]
id = "global-keyword"
template = "keyword_block"
tools = ["*"]
keywords = ["forbidden"]

[[rules]]
id = "global-length"
template = "content_length"
tools = ["whatsapp_send_message"]
max = 20

[[apps]]
name = "bot"
tools = ["whatsapp_send_message", "read"]

[[apps.rules]]
id = "app-keyword"
template = "keyword_block"
tools = ["whatsapp_send_message"]
keywords = ["forbidden", "secret"]

[[apps.rules]]
id = "app-recipients"
template = "allow_values"
tools = ["whatsapp_send_message"]
field = "to"
values = ["+16505551234"]
"#;
    let policy = Policy::parse(text, "t", &tools()).unwrap();
    let ok = "+16505551234";
    let stranger = "+16505550000";
    // A disabled tool is refused before any rule looks at it.
    assert_denied(
        decide(
            &policy,
            "whatsapp_delete_template",
            json!({"name": "forbidden"}),
        ),
        TOOL_NOT_ENABLED,
    );
    // Both a global and an app rule refuse: the global one is reported.
    let d = assert_denied(
        decide(
            &policy,
            "whatsapp_send_message",
            json!({"to": stranger, "text": "forbidden"}),
        ),
        "global-keyword",
    );
    assert_eq!(d.layer, Layer::Global);
    // Two global rules refuse: the first in the file is reported.
    assert_denied(
        decide(
            &policy,
            "whatsapp_send_message",
            json!({"to": ok, "text": "forbidden and far too long"}),
        ),
        "global-keyword",
    );
    // Only app rules refuse: the first app rule in the file.
    let d = assert_denied(
        decide(
            &policy,
            "whatsapp_send_message",
            json!({"to": stranger, "text": "a secret"}),
        ),
        "app-keyword",
    );
    assert_eq!(d.layer, Layer::App);
    assert_denied(
        decide(&policy, "whatsapp_send_message", send(stranger)),
        "app-recipients",
    );
    assert_allowed(decide(&policy, "whatsapp_send_message", send(ok)));
    // Rules attach only to their tools.
    assert_allowed(decide(
        &policy,
        "whatsapp_list_templates",
        json!({"name": "ok"}),
    ));
}

// ---- allow_values / block_values and recipients ------------------------------

fn recipients_policy() -> Policy {
    with_app_rules(&format!(
        r#"
[[apps.rules]]
id = "recipients"
template = "allow_values"
tools = {SENDS}
field = "to"
values = ["+1 (650) 555-1234", "4420 7946 0958"]
"#
    ))
}

#[test]
fn allowed_recipients_match_in_any_spelling_of_the_same_number() {
    let policy = recipients_policy();
    for to in [
        "+1 (650) 555-1234",
        "16505551234",
        "+16505551234",
        " +1-650-555-1234 ",
        "+44 20 7946 0958",
        "442079460958",
    ] {
        assert_allowed(decide(&policy, "whatsapp_send_message", send(to)));
    }
    assert_allowed(decide(
        &policy,
        "whatsapp_send_template",
        json!({"to": "+16505551234", "name": "hello_world", "language": "en_US"}),
    ));
}

#[test]
fn look_alike_recipients_are_denied() {
    let policy = recipients_policy();
    for to in [
        "+165055512345",     // an extra digit
        "+1650555123",       // one digit short
        "+446505551234",     // another country code
        "+16505551235",      // the neighbour
        "+1650555123O",      // letter O
        "+1 650 555 1234 x", // a suffix
        "0016505551234",     // dialling prefix
        "++16505551234",
        "",
    ] {
        let d = assert_denied(
            decide(&policy, "whatsapp_send_message", send(to)),
            "recipients",
        );
        assert_eq!(d.field.as_deref(), Some("to"), "{to}");
    }
    for args in [
        json!({"text": "no recipient"}),
        json!({"to": null, "text": "x"}),
        json!({"to": 16505551234u64, "text": "a number, not a string"}),
        json!({"to": ["+16505551234"], "text": "a list"}),
    ] {
        assert_denied(decide(&policy, "whatsapp_send_message", args), "recipients");
    }
}

#[test]
fn a_denied_recipient_reason_names_the_number_and_the_rule_but_not_the_allow_list() {
    let d = assert_denied(
        decide(
            &recipients_policy(),
            "whatsapp_send_media",
            json!({"to": "+16505550000", "media_type": "image", "link": "https://x.example/a.png"}),
        ),
        "recipients",
    );
    assert!(d.reason.contains("+16505550000"), "{}", d.reason);
    assert!(d.reason.contains("`recipients`"), "{}", d.reason);
    assert!(!d.reason.contains("5551234"), "{}", d.reason);
    assert!(!d.hint.contains("5551234"), "{}", d.hint);
}

#[test]
fn allow_values_on_other_fields_compares_exact_text_and_lists_the_choices() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "languages"
template = "allow_values"
tools = ["whatsapp_send_template"]
field = "language"
values = ["en_US", "de"]
"#,
    );
    let args = |lang: &str| json!({"to": "+16505551234", "name": "n", "language": lang});
    assert_allowed(decide(&policy, "whatsapp_send_template", args("en_US")));
    assert_allowed(decide(&policy, "whatsapp_send_template", args("de")));
    let d = assert_denied(
        decide(&policy, "whatsapp_send_template", args("en_us")),
        "languages",
    );
    assert!(
        d.hint.contains("`en_US`") && d.hint.contains("`de`"),
        "{}",
        d.hint
    );
    assert_denied(
        decide(
            &policy,
            "whatsapp_send_template",
            json!({"to": "+16505551234", "name": "n"}),
        ),
        "languages",
    );
}

#[test]
fn block_values_denies_listed_recipients_in_any_spelling_and_unreadable_ones() {
    let policy = with_app_rules(&format!(
        r#"
[[apps.rules]]
id = "blocked"
template = "block_values"
tools = {SENDS}
field = "to"
values = ["+16505559999"]
"#
    ));
    for to in ["+16505559999", "1 650 555 9999", "+1 (650) 555-9999"] {
        assert_denied(
            decide(&policy, "whatsapp_send_message", send(to)),
            "blocked",
        );
    }
    // Unreadable: it cannot be shown not to be the blocked number.
    assert_denied(
        decide(&policy, "whatsapp_send_message", send("+1650555999g")),
        "blocked",
    );
    for to in ["+16505559998", "+165055599990", "+446505559999"] {
        assert_allowed(decide(&policy, "whatsapp_send_message", send(to)));
    }
}

#[test]
fn block_values_on_a_list_field_denies_when_any_element_is_blocked() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "no-draft"
template = "block_values"
tools = ["whatsapp_list_templates"]
field = "status"
values = ["REJECTED", 7]
"#,
    );
    assert_denied(
        decide(
            &policy,
            "whatsapp_list_templates",
            json!({"status": "REJECTED"}),
        ),
        "no-draft",
    );
    assert_denied(
        decide(
            &policy,
            "whatsapp_list_templates",
            json!({"status": ["APPROVED", "REJECTED"]}),
        ),
        "no-draft",
    );
    assert_denied(
        decide(&policy, "whatsapp_list_templates", json!({"status": 7})),
        "no-draft",
    );
    assert_allowed(decide(
        &policy,
        "whatsapp_list_templates",
        json!({"status": "APPROVED"}),
    ));
    assert_allowed(decide(&policy, "whatsapp_list_templates", json!({})));
}

#[test]
fn value_rules_reject_bad_configuration_at_load() {
    let err = rule_err(&format!(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"allow_values\"\ntools = {SENDS}\nfield = \"to\"\nvalues = [\"+1650555123a\"]"
    ));
    assert!(
        err.contains("`+1650555123a`") && err.contains("not a phone number"),
        "{err}"
    );
    let err = rule_err(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"allow_values\"\ntools = [\"whatsapp_send_message\"]\nfield = \"to\"\nvalues = []",
    );
    assert!(err.contains("`values` is empty"), "{err}");
    let err = rule_err(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"block_values\"\ntools = [\"whatsapp_send_message\"]\nvalues = [\"x\"]",
    );
    assert!(err.contains("block_values needs `field`"), "{err}");
}

// ---- field checks at load ----------------------------------------------------

#[test]
fn a_rule_naming_a_field_the_tool_lacks_is_a_load_error_naming_rule_field_and_tool() {
    let err = rule_err(
        r#"
[[apps.rules]]
id = "recipients"
template = "allow_values"
tools = ["whatsapp_send_message", "whatsapp_list_templates"]
field = "to"
values = ["+16505551234"]
"#,
    );
    assert!(err.contains("test.toml"), "{err}");
    assert!(err.contains("rule `recipients` (app `bot`)"), "{err}");
    assert!(err.contains("line 6"), "{err}");
    assert!(
        err.contains("the field `to` is not an argument of the tool `whatsapp_list_templates`"),
        "{err}"
    );
    assert!(err.contains("Fix:"), "{err}");
    // A category reaches tools without the field too.
    let err = rule_err(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"require_prefix\"\ntools = [\"write\"]\nfield = \"to\"\nprefix = \"+1\"",
    );
    assert!(err.contains("whatsapp_create_template"), "{err}");
    // A typo gets a suggestion.
    let err = rule_err(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"content_length\"\ntools = [\"whatsapp_send_message\"]\nfield = \"txt\"\nmax = 5",
    );
    assert!(err.contains("`txt`"), "{err}");
}

#[test]
fn load_errors_report_every_problem_with_its_place_and_fix() {
    let err = load_err(
        r#"
[[rules]]
id = "dup"
template = "keyword_blok"
tools = ["*"]

[[apps]]
name = "a"
key = "plain-text-key"
key_hash = "md5:abc"
tools = ["whatsapp_send_mesage"]

[[apps.rules]]
id = "dup"
template = "rate_limit"
tools = ["read"]
max_calls = 0
window = "1 fortnight"
pattern = "x"
"#,
    );
    for expected in [
        "problems",
        "line 3, rule `dup`: `keyword_blok` is not a rule template. Fix: did you mean `keyword_block`?",
        "the API key itself is in the file",
        "key_hash `md5:abc`",
        "did you mean `whatsapp_send_message`?",
        "another rule has the same id",
        "`pattern` is not a setting of rate_limit",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn toml_syntax_errors_and_unknown_settings_name_the_line() {
    let err = load_err("[[apps]]\nname = \"a\"\ntools = [\"read\"\n");
    assert!(err.contains("line 3") || err.contains("line 4"), "{err}");
    let err = rule_err(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"content_length\"\ntools = [\"*\"]\nmaximum = 5",
    );
    assert!(err.contains("maximum"), "{err}");
}

#[test]
fn a_policy_without_apps_and_reserved_or_malformed_names_are_rejected() {
    assert!(load_err("").contains("no apps are defined"));
    let err = rule_err(
        "[[apps.rules]]\nid = \"tool-not-enabled\"\ntemplate = \"content_length\"\ntools = [\"*\"]\nmax = 5",
    );
    assert!(err.contains("reserved"), "{err}");
    let err = load_err("[[apps]]\nname = \"has space\"\ntools = []");
    assert!(err.contains("app `has space`"), "{err}");
    let err = load_err("[[apps]]\nname = \"a\"\ntools = []\n[[apps]]\nname = \"a\"\ntools = []");
    assert!(err.contains("another app has the same name"), "{err}");
    let same = hash_key("k");
    let err = load_err(&format!(
        "[[apps]]\nname = \"a\"\nkey_hash = \"{same}\"\ntools = []\n[[apps]]\nname = \"b\"\nkey_hash = \"{same}\"\ntools = []"
    ));
    assert!(err.contains("same key_hash"), "{err}");
}

// ---- content_length ----------------------------------------------------------

#[test]
fn content_length_allows_exactly_max_characters_and_denies_one_more() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "short"
template = "content_length"
tools = ["whatsapp_send_message"]
field = "text"
max = 10
"#,
    );
    let text = |n: usize| json!({"to": "+16505551234", "text": "é".repeat(n)});
    assert_allowed(decide(&policy, "whatsapp_send_message", text(10)));
    let d = assert_denied(decide(&policy, "whatsapp_send_message", text(11)), "short");
    assert!(
        d.reason.contains("11 characters") && d.reason.contains("at most 10"),
        "{}",
        d.reason
    );
    assert_eq!(d.field.as_deref(), Some("text"));
}

#[test]
fn content_length_without_a_field_bounds_every_text_and_with_a_list_field_their_total() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "any-text"
template = "content_length"
tools = ["whatsapp_send_media"]
max = 5

[[apps.rules]]
id = "params-total"
template = "content_length"
tools = ["whatsapp_send_template"]
field = "body_parameters"
max = 6
"#,
    );
    let media = |caption: &str| json!({"to": "+1650", "media_type": "image", "caption": caption});
    assert_allowed(decide(&policy, "whatsapp_send_media", media("12345")));
    let d = assert_denied(
        decide(&policy, "whatsapp_send_media", media("123456")),
        "any-text",
    );
    assert_eq!(d.field.as_deref(), Some("caption"));
    let tpl = |params: Value| json!({"to": "+1", "name": "n", "language": "en", "body_parameters": params});
    assert_allowed(decide(
        &policy,
        "whatsapp_send_template",
        tpl(json!(["abc", "def"])),
    ));
    assert_denied(
        decide(
            &policy,
            "whatsapp_send_template",
            tpl(json!(["abc", "defg"])),
        ),
        "params-total",
    );
    assert_denied(
        decide(
            &policy,
            "whatsapp_send_template",
            tpl(json!({"a": "abcd", "b": "efg"})),
        ),
        "params-total",
    );
}

#[test]
fn content_length_rejects_a_max_out_of_range_at_load() {
    for max in ["0", "-1", "1000001", "\"ten\""] {
        let err = rule_err(&format!(
            "[[apps.rules]]\nid = \"r\"\ntemplate = \"content_length\"\ntools = [\"*\"]\nmax = {max}"
        ));
        assert!(
            err.contains("max = ") || err.contains("line 8: invalid type"),
            "{max}: {err}"
        );
    }
}

// ---- keyword_block -------------------------------------------------------------

#[test]
fn keyword_block_matches_case_insensitively_anywhere_in_any_text() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "words"
template = "keyword_block"
tools = ["write"]
keywords = ["refund", "Straße", "a.b"]
"#,
    );
    for text in [
        "REFUND now",
        "no-refunds",
        "Die STRASSE",
        "die STRAßE",
        "x a.b y",
    ] {
        let verdict = decide(
            &policy,
            "whatsapp_send_message",
            json!({"to": "+1", "text": text}),
        );
        if text == "Die STRASSE" {
            // Unicode simple case folding does not turn ß into ss.
            assert_allowed(verdict);
        } else {
            assert_denied(verdict, "words");
        }
    }
    // The keyword is literal, not a pattern.
    assert_allowed(decide(
        &policy,
        "whatsapp_send_message",
        json!({"to": "+1", "text": "axb"}),
    ));
    // Nested text counts too, and the reason names the word.
    let d = assert_denied(
        decide(
            &policy,
            "whatsapp_send_template",
            json!({"to": "+1", "name": "n", "language": "en", "body_parameters": {"x": "Full Refund"}}),
        ),
        "words",
    );
    assert!(d.reason.contains("`refund`"), "{}", d.reason);
    assert_eq!(d.field.as_deref(), Some("body_parameters"));
}

#[test]
fn keyword_block_with_whole_words_and_a_field_ignores_parts_of_words_and_other_fields() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "words"
template = "keyword_block"
tools = ["whatsapp_send_media"]
field = "caption"
keywords = ["ass"]
whole_words = true
"#,
    );
    let media = |caption: &str, filename: &str| json!({"to": "+1", "media_type": "document", "caption": caption, "filename": filename});
    assert_allowed(decide(
        &policy,
        "whatsapp_send_media",
        media("first class", "ass.pdf"),
    ));
    assert_denied(
        decide(&policy, "whatsapp_send_media", media("you ASS!", "a.pdf")),
        "words",
    );
}

#[test]
fn keyword_block_rejects_empty_keywords_at_load() {
    for keywords in ["[]", "[\"ok\", \" \"]"] {
        let err = rule_err(&format!(
            "[[apps.rules]]\nid = \"r\"\ntemplate = \"keyword_block\"\ntools = [\"*\"]\nkeywords = {keywords}"
        ));
        assert!(err.contains("`keywords` is empty"), "{err}");
    }
}

// ---- block_pattern ----------------------------------------------------------------

#[test]
fn block_pattern_denies_a_match_and_describes_it_without_echoing_it() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "cards"
template = "block_pattern"
tools = ["whatsapp_send_message"]
field = "text"
pattern = '\b(?:\d[ -]?){15}\d\b'
description = "a payment card number"
"#,
    );
    let msg = |text: &str| json!({"to": "+16505551234", "text": text});
    let d = assert_denied(
        decide(
            &policy,
            "whatsapp_send_message",
            msg("card 4111 1111 1111 1111 ok"),
        ),
        "cards",
    );
    assert!(d.reason.contains("a payment card number"), "{}", d.reason);
    assert!(!d.reason.contains("4111"), "{}", d.reason);
    // 15 digits: one short of the pattern.
    assert_allowed(decide(
        &policy,
        "whatsapp_send_message",
        msg("411111111111111"),
    ));
    assert_denied(
        decide(&policy, "whatsapp_send_message", msg("4111111111111111")),
        "cards",
    );
    // The field is the only place looked at: `to` holds digits too.
    assert_allowed(decide(
        &policy,
        "whatsapp_send_message",
        json!({"to": "4111111111111111", "text": "hi"}),
    ));
}

#[test]
fn block_pattern_rejects_an_invalid_regex_at_load_with_the_regex_error() {
    let err = rule_err(
        "[[apps.rules]]\nid = \"bad-re\"\ntemplate = \"block_pattern\"\ntools = [\"*\"]\npattern = '(unclosed'",
    );
    assert!(
        err.contains("rule `bad-re`") && err.contains("not a valid regular expression"),
        "{err}"
    );
    assert!(err.contains("unclosed"), "{err}");
}

// ---- require_prefix ----------------------------------------------------------------

#[test]
fn require_prefix_on_recipients_compares_digits_and_on_text_exact_characters() {
    let policy = with_app_rules(&format!(
        r#"
[[apps.rules]]
id = "uk-only"
template = "require_prefix"
tools = {SENDS}
field = "to"
prefix = "+44"

[[apps.rules]]
id = "acme-templates"
template = "require_prefix"
tools = ["whatsapp_delete_template"]
field = "name"
prefix = "acme_"
"#
    ));
    for to in ["+44 20 7946 0958", "442079460958", "+44-20-7946-0958"] {
        assert_allowed(decide(&policy, "whatsapp_send_message", send(to)));
    }
    for to in ["+14420794609", "+4", "+0044 20 7946 0958", "abc"] {
        assert_denied(
            decide(&policy, "whatsapp_send_message", send(to)),
            "uk-only",
        );
    }
    assert_denied(
        decide(&policy, "whatsapp_send_message", json!({"text": "x"})),
        "uk-only",
    );
    assert_allowed(decide(
        &policy,
        "whatsapp_delete_template",
        json!({"name": "acme_promo"}),
    ));
    let d = assert_denied(
        decide(
            &policy,
            "whatsapp_delete_template",
            json!({"name": "ACME_promo"}),
        ),
        "acme-templates",
    );
    assert!(d.hint.contains("`acme_`"), "{}", d.hint);
}

#[test]
fn require_prefix_rejects_a_prefix_that_cannot_start_a_number_at_load() {
    let err = rule_err(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"require_prefix\"\ntools = [\"whatsapp_send_message\"]\nfield = \"to\"\nprefix = \"UK\"",
    );
    assert!(err.contains("cannot start a phone number"), "{err}");
}

// ---- rate_limit --------------------------------------------------------------------

#[derive(Default)]
struct MemCounters(RefCell<HashMap<String, Vec<i64>>>);

impl Counters for MemCounters {
    fn recent(&self, key: &str) -> Result<Vec<i64>, String> {
        Ok(self.0.borrow().get(key).cloned().unwrap_or_default())
    }
}

impl MemCounters {
    /// What the gateway does for an allowed call.
    fn record(&self, verdict: &Verdict, now: Timestamp) {
        if let Verdict::Allow(hits) = verdict {
            for hit in hits {
                self.0
                    .borrow_mut()
                    .entry(hit.key.clone())
                    .or_default()
                    .push(now.as_millisecond());
            }
        }
    }
}

fn rate_policy() -> Policy {
    let text = r#"
[[rules]]
id = "three-per-minute"
template = "rate_limit"
tools = ["whatsapp_send_message", "whatsapp_send_template"]
max_calls = 3
window = "1m"

[[apps]]
name = "a"
tools = ["*"]

[[apps]]
name = "b"
tools = ["*"]
"#;
    Policy::parse(text, "t", &tools()).unwrap()
}

#[test]
fn rate_limit_allows_exactly_max_calls_in_the_window_and_denies_the_next() {
    let policy = rate_policy();
    let counters = MemCounters::default();
    let t0 = noon();
    let at = |ms: i64| {
        t0.checked_add(jiff::SignedDuration::from_millis(ms))
            .unwrap()
    };
    let call = |app: &str, tool: &str, ms: i64| {
        let v = decide_as(&policy, app, tool, send("+1"), at(ms), &counters);
        counters.record(&v, at(ms));
        v
    };
    for i in 0..3 {
        assert_allowed(call("a", "whatsapp_send_message", i * 1000));
    }
    let d = assert_denied(call("a", "whatsapp_send_message", 3000), "three-per-minute");
    assert!(d.retryable);
    assert!(d.hint.contains("wait 57 s"), "{}", d.hint);
    // Per app and per tool: other counters are untouched.
    assert_allowed(call("b", "whatsapp_send_message", 3000));
    assert_allowed(call("a", "whatsapp_send_template", 3000));
    // Denied calls are not counted; one ms before the first call leaves the
    // window, it still counts.
    assert_denied(
        call("a", "whatsapp_send_message", 59_999),
        "three-per-minute",
    );
    assert_allowed(call("a", "whatsapp_send_message", 60_000));
    assert_denied(
        call("a", "whatsapp_send_message", 60_001),
        "three-per-minute",
    );
    assert_allowed(call("a", "whatsapp_send_message", 61_000));
    // Unrelated tools are not limited at all.
    for _ in 0..10 {
        assert_allowed(call("a", "whatsapp_list_templates", 61_000));
    }
}

#[test]
fn rate_limit_fails_closed_when_its_count_cannot_be_read() {
    struct Broken;
    impl Counters for Broken {
        fn recent(&self, _: &str) -> Result<Vec<i64>, String> {
            Err("disk on fire".into())
        }
    }
    let d = assert_denied(
        decide_as(
            &rate_policy(),
            "a",
            "whatsapp_send_message",
            send("+1"),
            noon(),
            &Broken,
        ),
        "three-per-minute",
    );
    assert!(d.reason.contains("disk on fire"), "{}", d.reason);
}

#[test]
fn rate_limit_rejects_bad_windows_and_counts_at_load() {
    for (max_calls, window, expected) in [
        ("0", "\"1m\"", "max_calls = 0"),
        ("10001", "\"1m\"", "max_calls = 10001"),
        ("5", "\"0s\"", "window `0s`"),
        ("5", "\"32d\"", "window `32d`"),
        ("5", "\"5 parsecs\"", "window `5 parsecs`"),
        ("5", "\"m\"", "window `m`"),
    ] {
        let err = rule_err(&format!(
            "[[apps.rules]]\nid = \"r\"\ntemplate = \"rate_limit\"\ntools = [\"*\"]\nmax_calls = {max_calls}\nwindow = {window}"
        ));
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let ok = with_app_rules(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"rate_limit\"\ntools = [\"*\"]\nmax_calls = 10000\nwindow = \"31d\"",
    );
    assert!(ok.has_rate_limits("bot", "whatsapp_send_message"));
}

// ---- time_window --------------------------------------------------------------------

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn window_policy(spec: &str) -> Policy {
    with_app_rules(&format!(
        "[[apps.rules]]\nid = \"hours\"\ntemplate = \"time_window\"\ntools = [\"whatsapp_send_message\"]\n{spec}"
    ))
}

fn open_at(policy: &Policy, when: &str) -> bool {
    matches!(
        decide_as(
            policy,
            "bot",
            "whatsapp_send_message",
            send("+1"),
            at(when),
            &NoCounters
        ),
        Verdict::Allow(_)
    )
}

#[test]
fn time_window_opens_at_start_and_closes_at_end_in_its_time_zone() {
    // Berlin is UTC+1 in November (CET).
    let policy = window_policy(
        "days = [\"weekdays\"]\nstart = \"09:00\"\nend = \"17:00\"\ntimezone = \"Europe/Berlin\"",
    );
    // Wednesday 2026-11-04.
    assert!(!open_at(&policy, "2026-11-04T07:59:59Z"));
    assert!(open_at(&policy, "2026-11-04T08:00:00Z"));
    assert!(open_at(&policy, "2026-11-04T15:59:59Z"));
    assert!(!open_at(&policy, "2026-11-04T16:00:00Z"));
    // Saturday inside the hours: closed.
    assert!(!open_at(&policy, "2026-11-07T10:00:00Z"));
    let d = assert_denied(
        decide_as(
            &policy,
            "bot",
            "whatsapp_send_message",
            send("+1"),
            at("2026-11-07T10:00:00Z"),
            &NoCounters,
        ),
        "hours",
    );
    assert!(
        d.reason
            .contains("Mon, Tue, Wed, Thu, Fri from 09:00 to 17:00 (Europe/Berlin time)")
            && d.reason.contains("it is now Sat 11:00 there"),
        "{}",
        d.reason
    );
    assert!(d.retryable);
}

#[test]
fn time_window_follows_daylight_saving_time_in_its_zone() {
    let policy =
        window_policy("start = \"09:00\"\nend = \"10:00\"\ntimezone = \"America/New_York\"");
    // EDT (UTC-4) in July, EST (UTC-5) in January.
    assert!(open_at(&policy, "2026-07-01T13:30:00Z"));
    assert!(!open_at(&policy, "2026-07-01T14:30:00Z"));
    assert!(!open_at(&policy, "2026-01-14T13:30:00Z"));
    assert!(open_at(&policy, "2026-01-14T14:30:00Z"));
}

#[test]
fn time_window_across_midnight_belongs_to_the_day_it_opens() {
    // Friday night shift, 22:00 to 06:00 Tokyo time (UTC+9, no DST).
    let policy = window_policy(
        "days = [\"fri\"]\nstart = \"22:00\"\nend = \"06:00\"\ntimezone = \"Asia/Tokyo\"",
    );
    // Friday 2026-11-06 22:00 JST = 13:00 UTC.
    assert!(!open_at(&policy, "2026-11-06T12:59:59Z"));
    assert!(open_at(&policy, "2026-11-06T13:00:00Z"));
    // Saturday 05:59 JST: still Friday's window.
    assert!(open_at(&policy, "2026-11-06T20:59:59Z"));
    assert!(!open_at(&policy, "2026-11-06T21:00:00Z"));
    // Friday 02:00 JST belongs to Thursday's window, which is not on.
    assert!(!open_at(&policy, "2026-11-05T17:00:00Z"));
    // Saturday 23:00 JST: Saturday's window is not on.
    assert!(!open_at(&policy, "2026-11-07T14:00:00Z"));
}

#[test]
fn time_window_until_24_00_includes_the_last_minute_of_the_day() {
    let policy = window_policy("start = \"18:00\"\nend = \"24:00\"\ntimezone = \"UTC\"");
    assert!(open_at(&policy, "2026-11-04T23:59:59Z"));
    assert!(!open_at(&policy, "2026-11-05T00:00:00Z"));
    assert!(!open_at(&policy, "2026-11-04T17:59:59Z"));
}

#[test]
fn time_window_rejects_bad_zones_times_and_days_at_load() {
    for (spec, expected) in [
        (
            "start = \"09:00\"\nend = \"17:00\"\ntimezone = \"Europe/Berln\"",
            "not a known time zone",
        ),
        (
            "start = \"9:00\"\nend = \"17:00\"\ntimezone = \"UTC\"",
            "not a time HH:MM",
        ),
        (
            "start = \"24:00\"\nend = \"17:00\"\ntimezone = \"UTC\"",
            "not a time HH:MM",
        ),
        (
            "start = \"09:00\"\nend = \"17:60\"\ntimezone = \"UTC\"",
            "not a time HH:MM",
        ),
        (
            "start = \"09:00\"\nend = \"09:00\"\ntimezone = \"UTC\"",
            "empty window",
        ),
        (
            "days = [\"funday\"]\nstart = \"09:00\"\nend = \"17:00\"\ntimezone = \"UTC\"",
            "`funday` is not a day",
        ),
        (
            "days = []\nstart = \"09:00\"\nend = \"17:00\"\ntimezone = \"UTC\"",
            "`days` is empty",
        ),
        (
            "start = \"09:00\"\nend = \"17:00\"",
            "time_window needs `timezone`",
        ),
    ] {
        let err = rule_err(&format!(
            "[[apps.rules]]\nid = \"hours\"\ntemplate = \"time_window\"\ntools = [\"*\"]\n{spec}"
        ));
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn an_operator_message_replaces_the_hint() {
    let policy = with_app_rules(
        "[[apps.rules]]\nid = \"r\"\ntemplate = \"keyword_block\"\ntools = [\"*\"]\nkeywords = [\"x\"]\nmessage = \"Ask a human agent.\"",
    );
    let d = assert_denied(
        decide(
            &policy,
            "whatsapp_send_message",
            json!({"to": "+1", "text": "x"}),
        ),
        "r",
    );
    assert_eq!(d.hint, "Ask a human agent.");
    assert!(d.to_tool_error().one_line().contains("Ask a human agent."));
}

#[test]
fn the_summary_lists_apps_tools_and_rules() {
    let policy = recipients_policy();
    let s = policy.summary();
    assert!(s.contains("app bot (no key: stdio only)"), "{s}");
    assert!(s.contains("recipients (allow_values) on whatsapp_send_message, whatsapp_send_template, whatsapp_send_media"), "{s}");
}

#[test]
fn denied_by_is_none_for_allowed_calls() {
    assert_eq!(
        denied_by(&decide(
            &recipients_policy(),
            "whatsapp_list_templates",
            json!({})
        )),
        None
    );
}

// ---- text as the recipient reads it (normalisation, renderings) ---------------

fn decide_with_template(policy: &Policy, args: Value, body: &str) -> Verdict {
    let known = seen::KnownTemplate {
        body: Some(body.into()),
        header: None,
    };
    policy.evaluate(
        &Call {
            app: "bot",
            tool: "whatsapp_send_template",
            args: &args,
            now: noon(),
            template: Some(&known),
        },
        &NoCounters,
    )
}

const REFUND_AND_CARDS: &str = r#"
[[rules]]
id = "no-refunds"
template = "keyword_block"
tools = ["write"]
keywords = ["refund"]

[[rules]]
id = "no-cards"
template = "block_card_numbers"
tools = ["write"]
"#;

fn refund_and_cards() -> Policy {
    let text = format!("{REFUND_AND_CARDS}\n[[apps]]\nname = \"bot\"\ntools = [\"*\"]\n");
    Policy::parse(&text, "test.toml", &tools()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn keyword_block_sees_through_invisible_characters_and_look_alike_letters() {
    let policy = refund_and_cards();
    for disguised in [
        "re\u{ad}fund",
        "re\u{200b}fund",
        "r\u{435}fund",
        "ＲＥＦＵＮＤ",
        "\u{2066}re\u{2069}fund",
        "re\u{fe0f}fu\u{200d}nd please",
    ] {
        let d = assert_denied(
            decide(&policy, "whatsapp_send_message", send_text(disguised)),
            "no-refunds",
        );
        assert!(d.reason.contains("`refund`"), "{}", d.reason);
    }
}

fn send_text(text: &str) -> Value {
    json!({"to": "+16505551234", "text": text})
}

#[test]
fn ordinary_text_in_several_languages_passes_the_text_rules() {
    let policy = refund_and_cards();
    for text in [
        "Your order #48213 ships on 2026-12-01; call +1 650 555 1234 with questions.",
        "Fund transfers take 1-2 days. Return label attached.",
        "Grüße aus München – Ihre Bestellung ist unterwegs.",
        "Привет! Ваш заказ в пути.",
        "¡Hola! Tu pedido 1234 5678 llegará mañana.",
        "مرحبا، طلبك في الطريق",
        "注文は発送されました。",
        "Tracking: 1Z999AA10123456784",
        "IBAN DE89 3704 0044 0532 0130 00",
        "Last four digits of your card: 1111",
    ] {
        assert_allowed(decide(&policy, "whatsapp_send_message", send_text(text)));
    }
}

#[test]
fn card_numbers_are_refused_however_they_are_split_and_never_echoed() {
    let policy = refund_and_cards();
    let tpl = |extra: Value| {
        let mut args = json!({"to": "+16505551234", "name": "n", "language": "en"});
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        args
    };
    for (tool, args) in [
        ("whatsapp_send_message", send_text("4111.1111.1111.1111")),
        (
            "whatsapp_send_message",
            send_text("4111\u{200b}1111\u{200b}1111\u{200b}1111"),
        ),
        (
            "whatsapp_send_template",
            tpl(json!({"body_parameters": ["4111 1111", "1111 1111"]})),
        ),
        (
            "whatsapp_send_template",
            tpl(json!({"body_parameters": {"a": "4111 1111", "b": "1111 1111"}})),
        ),
        (
            "whatsapp_send_template",
            tpl(
                json!({"components": [{"type": "button", "sub_type": "flow", "index": "0",
                "parameters": [{"type": "action", "action": {"flow_action_data": {"card": 4111111111111111u64}}}]}]}),
            ),
        ),
        (
            "whatsapp_send_media",
            json!({"to": "+16505551234", "media_type": "document", "media_id": "1",
                   "caption": "4111 1111", "filename": "1111 1111.pdf"}),
        ),
    ] {
        let d = assert_denied(decide(&policy, tool, args.clone()), "no-cards");
        assert!(!d.reason.contains("1111"), "{}", d.reason);
        assert!(!d.hint.contains("4111"), "{}", d.hint);
    }
}

#[test]
fn rules_on_no_field_never_look_at_the_recipient() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "no-cards"
template = "block_card_numbers"
tools = ["write"]

[[apps.rules]]
id = "old-card-regex"
template = "block_pattern"
tools = ["write"]
pattern = '\b(?:\d[ -]?){13,16}\b'
"#,
    );
    for to in ["+4915123456789", "+4111111111111111", "+5511987654321"] {
        assert_allowed(decide(&policy, "whatsapp_send_message", send(to)));
    }
}

#[test]
fn a_rule_naming_a_field_sees_only_that_field_and_its_rendering() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "header-cards"
template = "block_card_numbers"
tools = ["whatsapp_send_template"]
field = "header_parameters"
"#,
    );
    let args = |header: &str| {
        json!({"to": "+16505551234", "name": "n", "language": "en",
               "header_parameters": [header], "body_parameters": ["4111 1111", "1111 1111"]})
    };
    assert_allowed(decide(&policy, "whatsapp_send_template", args("Hello")));
    let d = assert_denied(
        decide(
            &policy,
            "whatsapp_send_template",
            args("4111-1111-1111-1111"),
        ),
        "header-cards",
    );
    assert_eq!(d.field.as_deref(), Some("header_parameters"));
}

#[test]
fn a_known_template_is_judged_with_its_parameters_substituted_but_its_own_text_is_not() {
    let policy = refund_and_cards();
    let args = |params: Value| json!({"to": "+16505551234", "name": "n", "language": "en", "body_parameters": params});
    // Split so that no parameter holds the word; the recipient reads it.
    let d = assert_denied(
        decide_with_template(
            &policy,
            args(json!(["re", "fund"])),
            "Your {{1}}{{2}} is ready",
        ),
        "no-refunds",
    );
    assert!(
        d.reason.contains("as the recipient reads it"),
        "{}",
        d.reason
    );
    assert_allowed(decide(
        &policy,
        "whatsapp_send_template",
        args(json!(["re", "fund"])),
    ));
    // Named placeholders too.
    assert_denied(
        decide_with_template(
            &policy,
            args(json!({"a": "ref", "b": "und"})),
            "{{ a }}{{b}} approved",
        ),
        "no-refunds",
    );
    // The template's own approved text may hold the word.
    assert_allowed(decide_with_template(
        &policy,
        args(json!(["#1234"])),
        "Your refund for order {{1}} was sent.",
    ));
}

#[test]
fn text_values_and_prefixes_compare_normalised_text() {
    let policy = with_app_rules(
        r#"
[[apps.rules]]
id = "no-such-template"
template = "block_values"
tools = ["whatsapp_delete_template"]
field = "name"
values = ["refund_notice"]

[[apps.rules]]
id = "acme-only"
template = "require_prefix"
tools = ["whatsapp_send_template"]
field = "name"
prefix = "acme_"
"#,
    );
    assert_denied(
        decide(
            &policy,
            "whatsapp_delete_template",
            json!({"name": "refund\u{ad}_notice"}),
        ),
        "no-such-template",
    );
    assert_allowed(decide(
        &policy,
        "whatsapp_send_template",
        json!({"to": "+16505551234", "name": "\u{200b}acme_hello", "language": "en"}),
    ));
}

/// Pairs WhatsApp delivers to one account (Brazil's 9, Mexico's 1,
/// Argentina's 9), as the component's alias rules define them.
const ALIASES: &[(&str, &str)] = &[
    ("+55 11 98765-4321", "+55 11 8765-4321"),
    ("+52 1 55 1234 5678", "+52 55 1234 5678"),
    ("+54 9 11 2345 6789", "+54 11 2345 6789"),
];

#[test]
fn recipient_rules_treat_both_spellings_of_an_aliased_number_as_one() {
    for (a, b) in ALIASES {
        for (listed, sent) in [(a, b), (b, a)] {
            let rules = format!(
                r#"
[[apps.rules]]
id = "blocked"
template = "block_values"
tools = {SENDS}
field = "to"
values = ["{listed}"]
"#
            );
            let policy = with_app_rules(&rules);
            assert_denied(
                decide(&policy, "whatsapp_send_message", send(sent)),
                "blocked",
            );
            let allow = with_app_rules(&rules.replace("block_values", "allow_values"));
            assert_allowed(decide(&allow, "whatsapp_send_message", send(sent)));
            let prefix = whatsapp_connector::phone::normalise(listed).unwrap();
            let prefixed = with_app_rules(&format!(
                "[[apps.rules]]\nid = \"p\"\ntemplate = \"require_prefix\"\ntools = {SENDS}\nfield = \"to\"\nprefix = \"+{prefix}\""
            ));
            assert_allowed(decide(&prefixed, "whatsapp_send_message", send(sent)));
        }
    }
    // A different subscriber is not an alias.
    let policy = with_app_rules(&format!(
        "[[apps.rules]]\nid = \"blocked\"\ntemplate = \"block_values\"\ntools = {SENDS}\nfield = \"to\"\nvalues = [\"+55 11 3456-7890\"]"
    ));
    assert_allowed(decide(
        &policy,
        "whatsapp_send_message",
        send("+55 11 93456-7890"),
    ));
}
