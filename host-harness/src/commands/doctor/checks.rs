//! The checks themselves, in order: each later one needs the earlier ones
//! to pass, and is skipped (with the reason) when they do not.

use crate::commands::vault::describe_expiry;
use crate::graph_admin::{self, AdminError, GraphAdmin, TokenInfo};
use whatsapp_host::caps::allowlist::Binding;
use whatsapp_host::caps::vault::{self, Kind, Secret};
use whatsapp_host::config::{EnvSecrets, Settings};

use super::report::Check;

/// A token expiring sooner than this is a warning.
const EXPIRY_WARNING_SECS: u64 = 7 * 86_400;

const CHECK_TOKEN: &str = "access token";
const CHECK_VALID: &str = "token valid";
const CHECK_EXPIRY: &str = "token expiry";
const CHECK_SCOPES: &str = "scopes";
const CHECK_WABA: &str = "WhatsApp Business Account";
const CHECK_PHONE: &str = "phone number";
const CHECK_WEBHOOKS: &str = "webhook subscription";

fn reconnect_fix(name: &str) -> String {
    format!(
        "run `host-harness connect`, or generate a new system-user token (Business Settings → \
         System users → Generate new token) and store it with `host-harness vault set {name}`"
    )
}

/// Runs every check. `secrets` are the environment's (or a sandbox's).
pub(crate) async fn diagnose(
    settings: &Settings,
    credential: &str,
    secrets: &EnvSecrets,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let skip_rest = |checks: &mut Vec<Check>, from: usize, why: &str| {
        let names = [
            CHECK_TOKEN,
            CHECK_VALID,
            CHECK_EXPIRY,
            CHECK_SCOPES,
            CHECK_WABA,
            CHECK_PHONE,
            CHECK_WEBHOOKS,
        ];
        for name in &names[from..] {
            checks.push(Check::skip(name, why));
        }
    };

    // 1. The token and where it comes from.
    let (token, source) = match find_token(settings, credential, secrets) {
        Ok(found) => found,
        Err(check) => {
            checks.push(check);
            skip_rest(&mut checks, 1, "no usable access token");
            return checks;
        }
    };
    let binding = settings.token_binding();
    match (&binding, &source) {
        (Ok(b), TokenSource::Vault { bindings, .. })
            if !bindings.is_empty() && !bindings.iter().any(|x| covers(x, b)) =>
        {
            checks.push(Check::fail(
                CHECK_TOKEN,
                format!(
                    "`{credential}` {}, but is bound to {} and the API is {b}: the host will not \
                     attach it",
                    source.describe(),
                    bindings
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!(
                    "store it again bound to the configured API: `host-harness vault set \
                     {credential}` (it binds to {b} by default)"
                ),
            ));
        }
        _ => checks.push(Check::pass(
            CHECK_TOKEN,
            format!("`{credential}` {}", source.describe()),
        )),
    }

    let graph = match GraphAdmin::from_settings(settings) {
        Ok(g) => g,
        Err(e) => {
            checks.push(Check::fail(
                CHECK_VALID,
                format!("{e:#}"),
                "fix api_base_url (WHATSAPP_API_BASE_URL) in the config",
            ));
            skip_rest(&mut checks, 2, "the API base URL is not usable");
            return checks;
        }
    };

    // 2. Valid?
    let info = match graph.debug_token(&token, &token).await {
        Ok(info) if info.is_valid => {
            checks.push(Check::pass(CHECK_VALID, info.summary()));
            info
        }
        Ok(info) => {
            checks.push(Check::fail(
                CHECK_VALID,
                format!(
                    "debug_token says the token is not valid: {}",
                    info.problem()
                ),
                reconnect_fix(credential),
            ));
            skip_rest(&mut checks, 2, "the token is not valid");
            return checks;
        }
        Err(e) if e.code() == Some(190) => {
            checks.push(Check::fail(
                CHECK_VALID,
                format!(
                    "Graph rejects the token: {}",
                    e.graph_message().unwrap_or("code 190")
                ),
                reconnect_fix(credential),
            ));
            skip_rest(&mut checks, 2, "the token is not valid");
            return checks;
        }
        Err(e) => {
            checks.push(Check::fail(
                CHECK_VALID,
                format!("cannot ask debug_token: {e}"),
                format!(
                    "check the network and api_base_url ({}); then run `host-harness doctor` again",
                    graph.base_url()
                ),
            ));
            skip_rest(&mut checks, 2, "the Graph API did not answer");
            return checks;
        }
    };

    // 3. Expiry.
    let now = graph_admin::now_unix();
    checks.push(match info.expires_at {
        None => Check::pass(CHECK_EXPIRY, "never expires"),
        Some(t) if t <= now => Check::fail(
            CHECK_EXPIRY,
            format!("expired {}", describe_expiry(Some(t), now)),
            reconnect_fix(credential),
        ),
        Some(t) if t - now < EXPIRY_WARNING_SECS => Check::warn(
            CHECK_EXPIRY,
            format!("expires {}", describe_expiry(Some(t), now)),
            format!(
                "before then, {}; a system-user token set to never expire avoids this",
                reconnect_fix(credential)
            ),
        ),
        Some(t) => Check::pass(
            CHECK_EXPIRY,
            format!("expires {}", describe_expiry(Some(t), now)),
        ),
    });

    // 4. Scopes.
    let missing = info.missing_scopes();
    checks.push(if missing.is_empty() {
        Check::pass(
            CHECK_SCOPES,
            format!("has {}", graph_admin::REQUIRED_SCOPES.join(" and ")),
        )
    } else {
        let list = missing
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(" and ");
        Check::fail(
            CHECK_SCOPES,
            format!(
                "missing {list} (granted: {})",
                if info.scopes.is_empty() {
                    "none".into()
                } else {
                    info.scopes.join(", ")
                }
            ),
            format!(
                "grant {list}: run `host-harness connect` and keep it checked, or give the system \
                 user the permission in Business Settings, generate a new token and store it with \
                 `host-harness vault set {credential}`"
            ),
        )
    });

    // 5. The WABA.
    let waba_ok = check_waba(&graph, settings, &token, &info, &mut checks).await;

    // 6. The phone number.
    check_phone(&graph, settings, &token, waba_ok.clone(), &mut checks).await;

    // 7. Webhooks.
    match waba_ok {
        Some(waba_id) => checks.push(check_webhooks(&graph, &token, &waba_id, &info).await),
        None => checks.push(Check::skip(CHECK_WEBHOOKS, "the WABA check did not pass")),
    }
    checks
}

/// Where the token came from.
enum TokenSource {
    Vault {
        path: String,
        bindings: Vec<Binding>,
    },
    Environment,
}

impl TokenSource {
    fn describe(&self) -> String {
        match self {
            TokenSource::Vault { path, .. } => format!("from the vault {path}"),
            TokenSource::Environment => "from WHATSAPP_ACCESS_TOKEN".into(),
        }
    }
}

fn covers(binding: &Binding, wanted: &Binding) -> bool {
    binding.covers(&wanted.origin, &wanted.path_prefix)
}

fn find_token(
    settings: &Settings,
    name: &str,
    secrets: &EnvSecrets,
) -> Result<(Secret, TokenSource), Check> {
    let vault = match settings.load_vault() {
        Ok(v) => Some(v),
        Err(e) => {
            // A vault that cannot be read is a failure even if the environment has a token.
            return Err(Check::fail(
                CHECK_TOKEN,
                format!("cannot read the vault: {e:#}"),
                "fix the vault key (WHATSAPP_VAULT_KEY or the key file) or move the vault aside \
                 and store the token again",
            ));
        }
    };
    if let Some(c) = vault.as_ref().and_then(|v| v.get(name)) {
        if c.kind != Kind::AccessToken {
            return Err(Check::fail(
                CHECK_TOKEN,
                format!("`{name}` in the vault is not an access token"),
                format!("store the access token with `host-harness vault set {name}`"),
            ));
        }
        return Ok((
            c.secret.clone(),
            TokenSource::Vault {
                path: settings.vault.path.display().to_string(),
                bindings: c.bindings.clone(),
            },
        ));
    }
    if name == vault::ACCESS_TOKEN
        && let Some(token) = &secrets.access_token
    {
        return Ok((token.clone(), TokenSource::Environment));
    }
    Err(Check::fail(
        CHECK_TOKEN,
        format!(
            "no access token `{name}` in the vault {}{}",
            settings.vault.path.display(),
            if name == vault::ACCESS_TOKEN {
                " nor in WHATSAPP_ACCESS_TOKEN"
            } else {
                ""
            }
        ),
        format!(
            "run `host-harness connect`, or paste a system-user token with `host-harness vault \
             set {name}`"
        ),
    ))
}

async fn check_waba(
    graph: &GraphAdmin,
    settings: &Settings,
    token: &Secret,
    info: &TokenInfo,
    checks: &mut Vec<Check>,
) -> Option<String> {
    let granted = info.waba_ids();
    let Some(waba_id) = settings.whatsapp.waba_id.clone() else {
        checks.push(Check::fail(
            CHECK_WABA,
            "waba_id is not configured",
            match granted.first() {
                Some(first) => format!(
                    "set waba_id = \"{first}\" in [whatsapp] (or WHATSAPP_WABA_ID); the token \
                     manages {}",
                    granted.join(", ")
                ),
                None => "set waba_id in [whatsapp] (or WHATSAPP_WABA_ID) to the id WhatsApp \
                         Manager shows, or run `host-harness connect --config FILE`"
                    .into(),
            },
        ));
        return None;
    };
    match graph.waba(token, &waba_id).await {
        Ok(waba) => {
            checks.push(Check::pass(
                CHECK_WABA,
                format!(
                    "{}{}",
                    waba.id,
                    waba.name.map(|n| format!(" ({n})")).unwrap_or_default()
                ),
            ));
            Some(waba_id)
        }
        Err(e) => {
            checks.push(Check::fail(
                CHECK_WABA,
                format!("{waba_id} cannot be read: {}", short(&e)),
                access_fix(&e, "waba_id", "WHATSAPP_WABA_ID", &granted),
            ));
            None
        }
    }
}

async fn check_phone(
    graph: &GraphAdmin,
    settings: &Settings,
    token: &Secret,
    waba_id: Option<String>,
    checks: &mut Vec<Check>,
) {
    let numbers = match &waba_id {
        Some(w) => graph.phone_numbers(token, w).await.ok(),
        None => None,
    };
    let listing = |numbers: &Option<Vec<graph_admin::PhoneNumber>>| {
        numbers
            .as_ref()
            .filter(|n| !n.is_empty())
            .map(|n| {
                format!(
                    "; the WABA has {}",
                    n.iter()
                        .map(graph_admin::PhoneNumber::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })
            .unwrap_or_default()
    };
    let Some(id) = settings.whatsapp.phone_number_id.clone() else {
        checks.push(Check::fail(
            CHECK_PHONE,
            "phone_number_id is not configured",
            format!(
                "set phone_number_id in [whatsapp] (or WHATSAPP_PHONE_NUMBER_ID){}",
                listing(&numbers)
            ),
        ));
        return;
    };
    match graph.phone_number(token, &id).await {
        Err(e) => checks.push(Check::fail(
            CHECK_PHONE,
            format!("{id} cannot be read: {}", short(&e)),
            format!(
                "{}{}",
                access_fix(&e, "phone_number_id", "WHATSAPP_PHONE_NUMBER_ID", &[]),
                listing(&numbers)
            ),
        )),
        Ok(phone) => match (&waba_id, &numbers) {
            (Some(w), Some(list)) if !list.iter().any(|p| p.id == id) => checks.push(Check::fail(
                CHECK_PHONE,
                format!("{} is not a number of the WABA {w}", phone.describe()),
                format!(
                    "use a phone_number_id of the WABA, or the waba_id this number belongs to{}",
                    listing(&numbers)
                ),
            )),
            _ => checks.push(Check::pass(
                CHECK_PHONE,
                format!(
                    "{}{}",
                    phone.describe(),
                    phone
                        .status
                        .as_deref()
                        .map(|s| format!(", status {s}"))
                        .unwrap_or_default()
                ),
            )),
        },
    }
}

async fn check_webhooks(
    graph: &GraphAdmin,
    token: &Secret,
    waba_id: &str,
    info: &TokenInfo,
) -> Check {
    let fix = format!(
        "subscribe the app: `host-harness connect` does it, or `curl -X POST -H \"Authorization: \
         Bearer $TOKEN\" {}/{}/{waba_id}/subscribed_apps`",
        graph.base_url(),
        graph.version()
    );
    match graph.subscribed_apps(token, waba_id).await {
        Err(e) => Check::fail(
            CHECK_WEBHOOKS,
            format!("cannot read subscribed_apps: {}", short(&e)),
            fix,
        ),
        Ok(apps) => {
            let ours = info.app_id.as_deref();
            let names = apps
                .iter()
                .map(|a| {
                    format!(
                        "{}{}",
                        a.id,
                        a.name
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            match ours {
                Some(id) if apps.iter().any(|a| a.id == id) => Check::pass(
                    CHECK_WEBHOOKS,
                    format!("app {id} is subscribed to the WABA's webhooks"),
                ),
                _ if apps.is_empty() => Check::fail(
                    CHECK_WEBHOOKS,
                    "no app is subscribed to the WABA's webhooks: delivery statuses and inbound \
                     messages will not arrive",
                    fix,
                ),
                Some(id) => Check::fail(
                    CHECK_WEBHOOKS,
                    format!("the token's app {id} is not subscribed (subscribed: {names})"),
                    fix,
                ),
                None => Check::warn(
                    CHECK_WEBHOOKS,
                    format!("subscribed: {names}; the token's app is unknown"),
                    "check that one of these is your app",
                ),
            }
        }
    }
}

fn short(e: &AdminError) -> String {
    match e {
        AdminError::Graph {
            code,
            subcode,
            message,
            ..
        } => format!(
            "Graph error {code}{}: {message}",
            subcode.map(|s| format!("/{s}")).unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

fn access_fix(e: &AdminError, setting: &str, env: &str, granted: &[String]) -> String {
    match e.code() {
        Some(200 | 10 | 3) => "grant whatsapp_business_management (see the scopes check)".into(),
        Some(190) => "the token was rejected: run `host-harness connect` again".into(),
        _ => {
            let mut s = format!("check {setting} in [whatsapp] (or {env})");
            if !granted.is_empty() {
                s.push_str(&format!("; the token manages WABA {}", granted.join(", ")));
            }
            s
        }
    }
}
