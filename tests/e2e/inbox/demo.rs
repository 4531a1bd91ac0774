//! `host-harness demo` tells its whole story, the inbox chapter included.

use std::time::Duration;

#[tokio::test]
async fn the_demo_reads_the_customers_reply_marks_it_read_reacts_and_answers_quoting_it() {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_host-harness"))
        .arg("demo")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the demo finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = |tool: &str| {
        stdout
            .lines()
            .any(|l| l.contains(tool) && l.contains(" PASS "))
    };
    for tool in [
        "whatsapp_get_messages",
        "whatsapp_list_conversations",
        "whatsapp_mark_as_read",
        "(sandbox) read receipt",
        "whatsapp_send_reaction",
        "(sandbox) answer quotes question",
    ] {
        assert!(passed(tool), "no passing {tool} step:\n{stdout}");
    }
    assert!(!stdout.contains(" FAIL "), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}
