//! `host-harness vault set|list|rm`: the encrypted vault from the command line.
//!
//! Secrets come from stdin only (never argv, where `ps` and shell history see
//! them). An access token, typically a pasted system-user token, is checked
//! with `debug_token` before it is stored, and stored with the scopes and the
//! expiry Graph reports. `vault list` shows names and metadata, never secrets.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::Path;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use zeroize::Zeroizing;

use crate::graph_admin::{self, GraphAdmin, TokenInfo};
use whatsapp_host::caps::allowlist::Binding;
use whatsapp_host::caps::vault::{self, Credential, Kind, Secret};
use whatsapp_host::config::Settings;
use whatsapp_host::vault_file::CredentialMeta;

/// The largest secret read from stdin.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// `host-harness vault`'s subcommands.
#[derive(Subcommand, Debug)]
pub enum VaultCommand {
    /// Store a secret read from stdin (never from the command line); an access token is
    /// validated with Graph's debug_token first.
    Set(SetArgs),
    /// List stored credentials: names, kinds, bindings, scopes and expiry; never secrets.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a credential.
    Rm {
        /// The credential's name.
        name: String,
    },
}

/// `host-harness vault set`'s flags.
#[derive(Args, Debug)]
pub struct SetArgs {
    /// Credential name: `whatsapp` (access token), `whatsapp-app-secret`,
    /// `whatsapp-verify-token`, or any other name with --kind.
    pub(crate) name: String,
    /// What the secret is; inferred for the three well-known names.
    #[arg(long, value_enum)]
    pub(crate) kind: Option<KindArg>,
    /// A granted scope (repeatable); access tokens with --no-validate only (validation
    /// records the scopes Graph reports).
    #[arg(long = "scope", value_name = "SCOPE", requires = "no_validate")]
    pub(crate) scopes: Vec<String>,
    /// Expiry in Unix seconds; access tokens with --no-validate only.
    #[arg(long, value_name = "UNIX", requires = "no_validate")]
    pub(crate) expires_at: Option<u64>,
    /// Where the host may send the token (repeatable), e.g.
    /// `https://graph.facebook.com/v23.0/`; default: the configured API base and version.
    #[arg(long = "bind", value_name = "URL")]
    pub(crate) binds: Vec<String>,
    /// Store an access token without asking Graph's debug_token about it.
    #[arg(long)]
    pub(crate) no_validate: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KindArg {
    AccessToken,
    AppSecret,
    VerifyToken,
    /// A password the host uses itself, e.g. the Redis state store's.
    Password,
}

impl From<KindArg> for Kind {
    fn from(k: KindArg) -> Kind {
        match k {
            KindArg::AccessToken => Kind::AccessToken,
            KindArg::AppSecret => Kind::AppSecret,
            KindArg::VerifyToken => Kind::VerifyToken,
            KindArg::Password => Kind::Password,
        }
    }
}

/// The kind of a well-known credential name.
pub(crate) fn infer_kind(name: &str) -> Option<Kind> {
    match name {
        vault::ACCESS_TOKEN => Some(Kind::AccessToken),
        vault::APP_SECRET => Some(Kind::AppSecret),
        vault::VERIFY_TOKEN => Some(Kind::VerifyToken),
        _ => None,
    }
}

pub(crate) fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::AccessToken => "access token",
        Kind::AppSecret => "app secret",
        Kind::VerifyToken => "verify token",
        Kind::Password => "password",
    }
}

/// Names are short and plain, so they can be printed and typed safely.
pub(crate) fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        bail!(
            "credential names are 1 to 64 letters, digits, `-`, `_` or `.` (got `{}`)",
            name.escape_default()
        );
    }
    Ok(())
}

/// Runs a `vault` subcommand; what it prints goes to stdout.
pub async fn run(config: Option<&Path>, command: VaultCommand) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    match command {
        VaultCommand::Set(args) => {
            check_name(&args.name)?;
            let kind = resolve_kind(&args)?;
            let secret = read_secret(&args.name, kind)?;
            let report = set(&settings, &args, secret).await?;
            println!("{report}");
        }
        VaultCommand::List { json } => {
            print!("{}", list(&settings, json)?);
        }
        VaultCommand::Rm { name } => {
            println!("{}", remove(&settings, &name)?);
        }
    }
    Ok(())
}

fn resolve_kind(args: &SetArgs) -> anyhow::Result<Kind> {
    match (args.kind.map(Kind::from), infer_kind(&args.name)) {
        (Some(given), Some(known)) if given != known => bail!(
            "`{}` is the well-known name of the {}; drop --kind or choose another name",
            args.name,
            kind_label(known)
        ),
        (Some(kind), _) | (None, Some(kind)) => Ok(kind),
        (None, None) => bail!(
            "say what `{}` holds with --kind access-token|app-secret|verify-token|password",
            args.name
        ),
    }
}

/// Reads the secret from stdin: a hidden prompt on a terminal, else all of stdin.
fn read_secret(name: &str, kind: Kind) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    let mut raw = Zeroizing::new(Vec::new());
    if stdin.is_terminal() {
        eprint!(
            "Paste the {} for `{name}` and press Enter (input is hidden): ",
            kind_label(kind)
        );
        let _ = std::io::stderr().flush();
        let echo_off = set_echo(false);
        let mut line = Zeroizing::new(String::new());
        let read = stdin.read_line(&mut line);
        if echo_off {
            set_echo(true);
        }
        eprintln!();
        read.context("cannot read the secret from the terminal")?;
        raw.extend_from_slice(line.as_bytes());
    } else {
        stdin
            .lock()
            .take(MAX_SECRET_BYTES + 1)
            .read_to_end(&mut raw)
            .context("cannot read the secret from stdin")?;
        if raw.len() as u64 > MAX_SECRET_BYTES {
            bail!("the secret on stdin is longer than {MAX_SECRET_BYTES} bytes");
        }
    }
    parse_secret(&raw, kind)
}

/// Terminal echo through `stty` (best effort; returns whether it changed).
fn set_echo(on: bool) -> bool {
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Trims surrounding whitespace (the newline a paste or `echo` adds) and
/// checks the secret is usable. Errors never quote it.
pub(crate) fn parse_secret(raw: &[u8], kind: Kind) -> anyhow::Result<Secret> {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    let value = &raw[start..end];
    if value.is_empty() {
        bail!("no secret on stdin: pipe it in, e.g. `host-harness vault set NAME < token.txt`");
    }
    if std::str::from_utf8(value).is_err() {
        bail!("the secret is not valid UTF-8 text");
    }
    if kind != Kind::VerifyToken && value.iter().any(|b| !(0x21..0x7f).contains(b)) {
        bail!(
            "the {} contains spaces or non-ASCII characters: paste exactly the value Meta shows",
            kind_label(kind)
        );
    }
    Ok(Secret::new(value.to_vec()))
}

/// Validates (for access tokens) and stores `secret`; returns what to tell the user.
pub(crate) async fn set(
    settings: &Settings,
    args: &SetArgs,
    secret: Secret,
) -> anyhow::Result<String> {
    check_name(&args.name)?;
    let kind = resolve_kind(args)?;
    if kind != Kind::AccessToken
        && (!args.binds.is_empty() || !args.scopes.is_empty() || args.expires_at.is_some())
    {
        bail!(
            "--bind, --scope and --expires-at describe access tokens; `{}` is an {}",
            args.name,
            kind_label(kind)
        );
    }
    let bindings: Vec<Binding> = if kind != Kind::AccessToken {
        vec![]
    } else if args.binds.is_empty() {
        vec![settings.token_binding()?]
    } else {
        args.binds
            .iter()
            .map(|b| Binding::parse(b).map_err(|e| anyhow::anyhow!("--bind: {e}")))
            .collect::<anyhow::Result<_>>()?
    };
    let mut credential = Credential {
        name: args.name.clone(),
        kind,
        secret,
        bindings,
        scopes: args.scopes.clone(),
        expires_at: args.expires_at.filter(|&t| t != 0),
    };
    let mut notes = Vec::new();
    if kind == Kind::AccessToken && !args.no_validate {
        let graph = GraphAdmin::from_settings(settings)?;
        let info = validate_token(&graph, &credential.secret).await?;
        credential.scopes = info.scopes.clone();
        credential.expires_at = info.expires_at;
        notes.push(format!("validated with debug_token: {}", info.summary()));
        let wabas = info.waba_ids();
        match (&settings.whatsapp.waba_id, wabas.first()) {
            (Some(configured), _) if !wabas.is_empty() && !wabas.contains(configured) => {
                notes.push(format!(
                    "warning: the configured waba_id {configured} is not among the WABAs this \
                     token manages ({}); run `host-harness doctor`",
                    wabas.join(", ")
                ));
            }
            (None, Some(first)) => notes.push(format!(
                "the token manages WABA {first}: set waba_id (WHATSAPP_WABA_ID) to it"
            )),
            _ => {}
        }
    } else if kind == Kind::AccessToken {
        notes.push("not validated (--no-validate)".into());
    }
    let file = settings.vault_file(true)?;
    let meta = CredentialMeta::from(&credential);
    let replaced = file.update(move |all| {
        let before = all.len();
        all.retain(|c| c.name != credential.name);
        let replaced = all.len() != before;
        all.push(credential);
        replaced
    })?;
    let mut out = format!(
        "{} `{}` ({}) in {}",
        if replaced { "replaced" } else { "stored" },
        meta.name,
        kind_label(meta.kind),
        file.path().display()
    );
    if meta.kind == Kind::AccessToken {
        out.push_str(&format!(
            "\n  scopes:   {}\n  expires:  {}\n  bound to: {}",
            if meta.scopes.is_empty() {
                "(unknown)".to_string()
            } else {
                meta.scopes.join(", ")
            },
            describe_expiry(meta.expires_at, graph_admin::now_unix()),
            meta.bindings.join(", ")
        ));
    }
    for note in notes {
        out.push_str("\n  ");
        out.push_str(&note);
    }
    Ok(out)
}

/// `debug_token` on a pasted token (authorised by the token itself): it
/// must be valid and carry both WhatsApp scopes.
pub(crate) async fn validate_token(
    graph: &GraphAdmin,
    token: &Secret,
) -> anyhow::Result<TokenInfo> {
    let info = match graph.debug_token(token, token).await {
        Ok(info) => info,
        Err(e) if e.code() == Some(190) => bail!(
            "the token is not valid: Graph rejected it ({}); nothing was stored. Generate a new \
             token (Business Settings → System users → Generate new token) and try again",
            e.graph_message().unwrap_or("code 190")
        ),
        Err(e) => bail!(
            "cannot validate the token with debug_token: {e}; nothing was stored. Retry, or \
             store it unchecked with --no-validate"
        ),
    };
    if !info.is_valid {
        bail!(
            "the token is not valid: {}; nothing was stored. Generate a new token (Business \
             Settings → System users → Generate new token) and try again",
            info.problem()
        );
    }
    let missing = info.missing_scopes();
    if let Some(first) = missing.first() {
        bail!(
            "the token lacks the permission `{first}`{} (it has: {}); nothing was stored. Give \
             the system user the WhatsApp account and generate a token with both \
             whatsapp_business_management and whatsapp_business_messaging, or store it anyway \
             with --no-validate",
            if missing.len() > 1 {
                format!(" and `{}`", missing[1..].join("`, `"))
            } else {
                String::new()
            },
            if info.scopes.is_empty() {
                "no scopes".to_string()
            } else {
                info.scopes.join(", ")
            }
        );
    }
    Ok(info)
}

/// `never`, `2026-11-20 10:00 UTC (in 42 days)`, `… (EXPIRED)`.
pub(crate) fn describe_expiry(expires_at: Option<u64>, now: u64) -> String {
    match expires_at {
        None => "never".into(),
        Some(t) if t <= now => format!("{} (EXPIRED)", graph_admin::format_unix(t)),
        Some(t) => {
            let secs = t - now;
            let left = if secs >= 2 * 86_400 {
                format!("in {} days", secs / 86_400)
            } else if secs >= 3600 {
                format!("in {} hours", secs / 3600)
            } else {
                format!("in {} minutes", secs.div_ceil(60))
            };
            format!("{} ({left})", graph_admin::format_unix(t))
        }
    }
}

/// The stored credentials' metadata, as a table or JSON.
pub(crate) fn list(settings: &Settings, as_json: bool) -> anyhow::Result<String> {
    let path = &settings.vault.path;
    let metas: Vec<CredentialMeta> = if path.exists() {
        settings
            .vault_file(false)?
            .load()?
            .iter()
            .map(CredentialMeta::from)
            .collect()
    } else {
        vec![]
    };
    let env_names: Vec<&str> = [
        ("WHATSAPP_ACCESS_TOKEN", vault::ACCESS_TOKEN),
        ("WHATSAPP_APP_SECRET", vault::APP_SECRET),
        ("WHATSAPP_WEBHOOK_VERIFY_TOKEN", vault::VERIFY_TOKEN),
    ]
    .into_iter()
    .filter(|(var, _)| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
    .map(|(var, _)| var)
    .collect();
    if as_json {
        let value = json!({
            "vault": path.display().to_string(),
            "credentials": metas,
            "environment": env_names,
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    let now = graph_admin::now_unix();
    let mut out = String::new();
    if metas.is_empty() {
        out.push_str(&format!("no credentials in {}\n", path.display()));
    } else {
        out.push_str(&format!("vault: {}\n", path.display()));
        let rows: Vec<[String; 5]> = metas
            .iter()
            .map(|m| {
                [
                    m.name.clone(),
                    kind_label(m.kind).to_string(),
                    describe_expiry(m.expires_at, now),
                    if m.scopes.is_empty() {
                        "-".into()
                    } else {
                        m.scopes.join(",")
                    },
                    if m.bindings.is_empty() {
                        "-".into()
                    } else {
                        m.bindings.join(",")
                    },
                ]
            })
            .collect();
        let header = ["NAME", "KIND", "EXPIRES", "SCOPES", "BOUND TO"].map(String::from);
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
    }
    for var in env_names {
        out.push_str(&format!(
            "note: {var} is set; it is used for its name only when the vault lacks it\n"
        ));
    }
    Ok(out)
}

/// Removes `name`; an error if it is not there.
pub(crate) fn remove(settings: &Settings, name: &str) -> anyhow::Result<String> {
    let path = &settings.vault.path;
    if !path.exists() {
        bail!(
            "no credential `{name}`: the vault {} does not exist",
            path.display()
        );
    }
    let file = settings.vault_file(false)?;
    let removed = file.update(|all| {
        let before = all.len();
        all.retain(|c| c.name != name);
        all.len() != before
    })?;
    if !removed {
        bail!(
            "no credential `{name}` in {}; see `host-harness vault list`",
            path.display()
        );
    }
    Ok(format!("removed `{name}` from {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_names_imply_their_kind() {
        assert_eq!(infer_kind("whatsapp"), Some(Kind::AccessToken));
        assert_eq!(infer_kind("whatsapp-app-secret"), Some(Kind::AppSecret));
        assert_eq!(infer_kind("whatsapp-verify-token"), Some(Kind::VerifyToken));
        assert_eq!(infer_kind("staging"), None);
    }

    #[test]
    fn a_kind_that_contradicts_a_well_known_name_is_refused() {
        let args = |name: &str, kind| SetArgs {
            name: name.into(),
            kind,
            scopes: vec![],
            expires_at: None,
            binds: vec![],
            no_validate: false,
        };
        assert!(resolve_kind(&args("whatsapp", Some(KindArg::AppSecret))).is_err());
        assert!(resolve_kind(&args("staging", None)).is_err());
        assert_eq!(
            resolve_kind(&args("staging", Some(KindArg::AccessToken))).unwrap(),
            Kind::AccessToken
        );
    }

    #[test]
    fn pasted_secrets_lose_surrounding_whitespace_and_bad_ones_are_refused_without_echo() {
        let s = parse_secret(b"  EAAG-token_1\r\n", Kind::AccessToken).unwrap();
        assert_eq!(s.expose(), b"EAAG-token_1");
        assert!(parse_secret(b"\n", Kind::AccessToken).is_err());
        let e = parse_secret(b"EAAG secret-part", Kind::AccessToken)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret-part"), "{e}");
        assert_eq!(
            parse_secret(b"my verify token\n", Kind::VerifyToken)
                .unwrap()
                .expose(),
            b"my verify token"
        );
    }

    #[test]
    fn names_are_plain() {
        assert!(check_name("whatsapp-staging.2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn expiry_reads_as_never_a_date_or_expired() {
        assert_eq!(describe_expiry(None, 100), "never");
        assert!(describe_expiry(Some(50), 100).ends_with("(EXPIRED)"));
        assert!(describe_expiry(Some(100 + 3 * 86_400), 100).contains("in 3 days"));
        assert!(describe_expiry(Some(100 + 5 * 3600), 100).contains("in 5 hours"));
    }
}
