//! Writing the discovered ids into the user's config file.

use std::path::Path;

use anyhow::{Context as _, bail};
use whatsapp_host::config::Settings;
use whatsapp_host::files::{Access, write_atomic};

/// Sets `waba_id` and `phone_number_id` in the `[whatsapp]` table of the TOML
/// file at `path` (created if absent), keeping everything else as it was, and
/// writes it atomically.
pub(super) fn write_ids(path: &Path, waba_id: &str, phone_number_id: &str) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let updated = set_whatsapp_ids(&text, waba_id, phone_number_id);
    let by_hand = || {
        format!(
            "cannot update {} automatically; add `waba_id = \"{waba_id}\"` and \
             `phone_number_id = \"{phone_number_id}\"` to its [whatsapp] table",
            path.display()
        )
    };
    let parsed: Settings = toml::from_str(&updated).with_context(by_hand)?;
    if parsed.whatsapp.waba_id.as_deref() != Some(waba_id)
        || parsed.whatsapp.phone_number_id.as_deref() != Some(phone_number_id)
    {
        bail!(by_hand());
    }
    // The user's file: keep whatever permissions they gave it.
    write_atomic(path, &[updated.as_bytes()], Access::KeepExisting)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The line-level edit behind `write_ids` (values are numeric ids).
pub(super) fn set_whatsapp_ids(text: &str, waba_id: &str, phone_number_id: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let header = lines.iter().position(|l| {
        let t = l.trim();
        let t = t.split('#').next().unwrap_or("").trim();
        t.starts_with('[')
            && !t.starts_with("[[")
            && t.trim_start_matches('[').trim_end_matches(']').trim() == "whatsapp"
    });
    let values = [("waba_id", waba_id), ("phone_number_id", phone_number_id)];
    match header {
        None => {
            if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                lines.push(String::new());
            }
            lines.push("[whatsapp]".into());
            for (k, v) in values {
                lines.push(format!("{k} = \"{v}\""));
            }
        }
        Some(h) => {
            let end = lines[h + 1..]
                .iter()
                .position(|l| is_header(l))
                .map_or(lines.len(), |i| h + 1 + i);
            let mut insert_at = lines[h + 1..end]
                .iter()
                .rposition(|l| !l.trim().is_empty())
                .map_or(h + 1, |i| h + 2 + i);
            for (k, v) in values {
                let existing = lines[h + 1..insert_at].iter().position(|l| {
                    l.trim_start()
                        .strip_prefix(k)
                        .is_some_and(|rest| rest.trim_start().starts_with('='))
                });
                match existing {
                    Some(i) => lines[h + 1 + i] = format!("{k} = \"{v}\""),
                    None => {
                        lines.insert(insert_at, format!("{k} = \"{v}\""));
                        insert_at += 1;
                    }
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}
