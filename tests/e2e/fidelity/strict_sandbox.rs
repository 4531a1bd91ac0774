//! Fidelity cases: the sandbox is as strict as the Cloud API where error
//! paths matter, and the connector handles what it answers.

use serde_json::json;
use whatsapp_host::tool::ErrorKind;
use whatsapp_sandbox::TemplateChange;

use crate::common::Env;

fn order_update(to: &str) -> serde_json::Value {
    json!({"to": to, "name": "order_update", "language": "en_US", "body_parameters": ["Sam", "#1042"]})
}

#[tokio::test]
async fn a_template_meta_paused_or_disabled_is_refused_with_its_own_code_and_a_flagged_one_still_sends()
 {
    let env = Env::new().await;
    let pause = TemplateChange {
        status: Some("PAUSED".into()),
        ..Default::default()
    };
    env.sandbox
        .change_template("order_update", Some("en_US"), &pause)
        .unwrap();
    let e = env
        .call("whatsapp_send_template", order_update("+16505551234"))
        .await
        .unwrap_err();
    assert_eq!(e.code, Some(132015), "{e:?}");
    let disable = TemplateChange {
        status: Some("DISABLED".into()),
        ..Default::default()
    };
    env.sandbox
        .change_template("order_update", None, &disable)
        .unwrap();
    let e = env
        .call("whatsapp_send_template", order_update("+16505551234"))
        .await
        .unwrap_err();
    assert_eq!(e.code, Some(132016), "{e:?}");
    let flag = TemplateChange {
        status: Some("FLAGGED".into()),
        quality_score: Some("RED".into()),
        category: Some("MARKETING".into()),
    };
    env.sandbox
        .change_template("order_update", None, &flag)
        .unwrap();
    env.call("whatsapp_send_template", order_update("+16505551234"))
        .await
        .unwrap();
    let listed = env
        .call("whatsapp_list_templates", json!({"name": "order_update"}))
        .await
        .unwrap();
    assert_eq!(listed["templates"][0]["status"], "FLAGGED", "{listed}");
    assert_eq!(listed["templates"][0]["category"], "MARKETING", "{listed}");
}

#[tokio::test]
async fn a_template_body_filled_past_meta_s_limit_is_refused_not_sent() {
    let env = Env::new().await;
    // Each parameter is within its own limit; only the filled-in body (the template's text
    // plus 32,750 characters) is longer than the 32,768 Meta allows.
    let args = json!({"to": "+16505551234", "name": "order_update", "language": "en_US",
                      "body_parameters": ["x".repeat(32_750), "#1"]});
    match env.call("whatsapp_send_template", args).await {
        // The connector may know the template and refuse it itself, as Meta would.
        Err(e) if e.kind == ErrorKind::InvalidArguments => {}
        Err(e) => assert_eq!(e.code, Some(132005), "{e:?}"),
        Ok(v) => panic!("a body Meta refuses was accepted: {v}"),
    }
    assert!(env.sandbox.sent_messages().is_empty());
}

#[tokio::test]
async fn a_brazilian_mobile_answers_with_the_wa_id_without_the_ninth_digit() {
    let env = Env::new().await;
    let sent = env
        .call("whatsapp_send_template", order_update("+55 11 98765-4321"))
        .await
        .unwrap();
    assert_eq!(sent["to"], "5511987654321");
    assert_eq!(sent["wa_id"], "551187654321", "{sent}");
    let sent = env
        .call("whatsapp_send_template", order_update("+52 55 1234 5678"))
        .await
        .unwrap();
    assert_eq!(sent["wa_id"], "5215512345678", "{sent}");
}
