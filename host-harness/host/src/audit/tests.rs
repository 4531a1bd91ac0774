use super::*;
use serde_json::json;

fn record<'a>(
    args: Option<&'a Value>,
    result: &'a Result<Value, ToolError>,
    denied: bool,
) -> CallRecord<'a> {
    CallRecord {
        time: "2026-11-04T12:00:00.1234Z".parse().unwrap(),
        app: "support-bot",
        tool: "whatsapp_send_message",
        args,
        result: result.as_ref(),
        denied,
        latency: Duration::from_micros(84_216),
    }
}

#[test]
fn an_allowed_call_line_has_every_field_a_masked_recipient_a_message_ref_and_no_body() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuditConfig::new(dir.path().join("a.jsonl"));
    let reference = config.ref_key.reference("wamid.X");
    let log = AuditLog::open(config).unwrap();
    let args = json!({"to": "+1 (650) 555-1234", "text": "the body"});
    let result = Ok(json!({"message_id": "wamid.X", "status": "accepted"}));
    let line: Value =
        serde_json::from_str(&log.line(&record(Some(&args), &result, false))).unwrap();
    assert_eq!(
        line,
        json!({"time": "2026-11-04T12:00:00.123Z", "app": "support-bot",
               "tool": "whatsapp_send_message", "decision": "allow", "rule": null,
               "outcome": "ok", "error_kind": null, "error_code": null,
               "latency_ms": 84.216, "message_ref": reference, "recipient": "+1********34"})
    );
    let none = Ok(json!({}));
    let line: Value = serde_json::from_str(&log.line(&record(None, &none, false))).unwrap();
    assert_eq!(
        line["message_ref"],
        Value::Null,
        "present, null without an id"
    );
}

#[test]
fn bodies_written_on_request_show_message_ids_as_refs_at_any_depth() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AuditConfig::new(dir.path().join("a.jsonl"));
    config.include_bodies = true;
    let reference = config.ref_key.reference("wamid.HBgLMTY1MDU1NTEyMzQ=");
    let log = AuditLog::open(config).unwrap();
    let args = json!({"to": "+16505551234", "reply_to": "wamid.HBgLMTY1MDU1NTEyMzQ=",
                      "nested": [{"to": "+16505551234", "id": "wamid.HBgLMTY1MDU1NTEyMzQ="}]});
    let result = Ok(json!({}));
    let text = log.line(&record(Some(&args), &result, false));
    let line: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        line["arguments"],
        json!({"to": "+1********34", "reply_to": format!("ref:{reference}"),
               "nested": [{"to": "+1********34", "id": format!("ref:{reference}")}]})
    );
    assert!(
        !text.contains("wamid") && !text.contains("MTY1MDU1NTEyMzQ"),
        "{text}"
    );
}

#[test]
fn the_customer_an_inbox_tool_names_is_masked_like_a_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AuditConfig::new(dir.path().join("a.jsonl"));
    config.include_bodies = true;
    let log = AuditLog::open(config).unwrap();
    let args = json!({"customer": "+16505551234", "message_id": "wamid.HBgLMTY1MDU1NTEyMzQ="});
    let result = Ok(json!({"success": true, "customer": "+16505551234"}));
    let mut call = record(Some(&args), &result, false);
    call.tool = "whatsapp_mark_as_read";
    let text = log.line(&call);
    let line: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(line["recipient"], "+1********34");
    assert_eq!(line["arguments"]["customer"], "+1********34");
    assert!(!text.contains("6505551234"), "{text}");
}

#[test]
fn a_denied_call_line_names_the_rule_and_bodies_appear_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AuditConfig::new(dir.path().join("a.jsonl"));
    config.include_bodies = true;
    let log = AuditLog::open(config).unwrap();
    let args = json!({"to": "+16505551234", "text": "the body"});
    let mut e = ToolError::new(ErrorKind::Denied, "Refused by policy", "d", "h");
    e.rule = Some("recipients".into());
    let result = Err(e);
    let line: Value = serde_json::from_str(&log.line(&record(Some(&args), &result, true))).unwrap();
    assert_eq!(line["decision"], "deny");
    assert_eq!(line["rule"], "recipients");
    assert_eq!(line["outcome"], "denied");
    assert_eq!(line["error_kind"], "denied");
    assert_eq!(
        line["arguments"],
        json!({"to": "+1********34", "text": "the body"})
    );
}

#[test]
fn unmasked_recipients_are_written_only_when_masking_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AuditConfig::new(dir.path().join("a.jsonl"));
    config.mask_recipients = false;
    let log = AuditLog::open(config).unwrap();
    let args = json!({"to": "+16505551234", "message_id": "wamid.Y"});
    let result = Err(ToolError::new(
        ErrorKind::ApiError,
        "t",
        "secret-ish details",
        "h",
    ));
    let text = log.line(&record(Some(&args), &result, false));
    let line: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(line["recipient"], "+16505551234");
    assert_eq!(line["message_id"], "wamid.Y");
    assert!(line.get("message_ref").is_none());
    assert_eq!(line["outcome"], "error");
    assert!(!text.contains("secret-ish details"), "{text}");
}

#[test]
fn the_log_rotates_by_size_and_keeps_n_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut config = AuditConfig::new(&path);
    config.max_bytes = 1000;
    config.keep = 2;
    let log = AuditLog::open(config).unwrap();
    let args = json!({"to": "+16505551234"});
    let result = Ok(json!({}));
    let one = log.line(&record(Some(&args), &result, false)).len() as u64 + 1;
    let per_file = 1000 / one;
    let total = per_file * 3 + 1;
    for _ in 0..total {
        log.record(&record(Some(&args), &result, false));
    }
    log.flush();
    let lines = |p: &Path| std::fs::read_to_string(p).map(|t| t.lines().count() as u64);
    assert_eq!(lines(&path).unwrap(), 1);
    assert_eq!(lines(&rotated_path(&path, 1)).unwrap(), per_file);
    assert_eq!(lines(&rotated_path(&path, 2)).unwrap(), per_file);
    assert!(
        !rotated_path(&path, 3).exists(),
        "only two rotated files are kept"
    );
    for n in 1..=2 {
        assert!(std::fs::metadata(rotated_path(&path, n)).unwrap().len() <= 1000);
    }
}

#[test]
fn close_writes_everything_queued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(AuditConfig::new(&path)).unwrap();
    let result = Ok(json!({}));
    for _ in 0..100 {
        log.record(&record(None, &result, false));
    }
    log.close();
    log.record(&record(None, &result, false));
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 100);
}
