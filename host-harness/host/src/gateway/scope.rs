//! OAuth scopes: a tool whose required scopes the access token is known to
//! lack is refused before anything runs. Tokens with unknown scopes (e.g.
//! pasted without validation) are left to the API.

use crate::runtime::Runtime;
use crate::tool::{ErrorKind, ToolDescriptor, ToolError};

/// The access token a call would use: its vault name and granted scopes
/// (empty when unknown).
pub(super) struct TokenScopes {
    pub(super) name: String,
    pub(super) granted: Vec<String>,
}

/// The scopes of the credential the component is configured to use, read
/// from the runtime's capabilities; `None` without one.
pub(super) fn token_scopes(runtime: &Runtime) -> Option<TokenScopes> {
    let credential = runtime.capabilities().access_token()?;
    Some(TokenScopes {
        name: credential.name.clone(),
        granted: credential.scopes.clone(),
    })
}

/// The refusal for `tool` if `token` is known to lack one of its scopes.
pub(super) fn missing_scope(tool: &ToolDescriptor, token: &TokenScopes) -> Option<ToolError> {
    if token.granted.is_empty() {
        return None;
    }
    let missing = tool.scopes.iter().find(|s| !token.granted.contains(s))?;
    let (name, tool) = (&token.name, &tool.name);
    let mut e = ToolError::new(
        ErrorKind::Denied,
        "Missing permission",
        format!(
            "`{tool}` needs the OAuth scope `{missing}`, which the access token `{name}` was not \
             granted (it has: {}); nothing was sent",
            token.granted.join(", ")
        ),
        format!(
            "grant `{missing}`: run `host-harness connect` and approve it, or give the system \
             user that permission in Meta Business Manager, generate a new token and store it \
             with `host-harness vault set {name}`"
        ),
    );
    e.code = Some(200);
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::{Annotations, Category};

    fn tool(scopes: &[&str]) -> ToolDescriptor {
        ToolDescriptor {
            name: "whatsapp_send_message".into(),
            title: "Send".into(),
            description: String::new(),
            category: Category::Write,
            input_schema: serde_json::json!({"type": "object"}),
            output_schema: serde_json::json!({"type": "object"}),
            annotations: Annotations {
                read_only_hint: false,
                destructive_hint: false,
                idempotent_hint: false,
                open_world_hint: true,
            },
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn token(granted: &[&str]) -> TokenScopes {
        TokenScopes {
            name: "whatsapp".into(),
            granted: granted.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_token_lacking_a_required_scope_is_refused_with_code_200_and_how_to_grant_it() {
        let needs = tool(&["whatsapp_business_messaging"]);
        let e = missing_scope(&needs, &token(&["whatsapp_business_management"])).unwrap();
        assert_eq!(e.kind, ErrorKind::Denied);
        assert_eq!(e.code, Some(200));
        assert_eq!(e.title, "Missing permission");
        assert_eq!(
            e.details,
            "`whatsapp_send_message` needs the OAuth scope `whatsapp_business_messaging`, which \
             the access token `whatsapp` was not granted (it has: whatsapp_business_management); \
             nothing was sent"
        );
        assert!(
            e.hint.contains("host-harness vault set whatsapp"),
            "{}",
            e.hint
        );
    }

    #[test]
    fn a_token_with_unknown_scopes_or_every_required_one_is_let_through() {
        let needs = tool(&["whatsapp_business_messaging"]);
        assert_eq!(missing_scope(&needs, &token(&[])), None);
        assert_eq!(
            missing_scope(&needs, &token(&["whatsapp_business_messaging"])),
            None
        );
        assert_eq!(missing_scope(&tool(&[]), &token(&["x"])), None);
    }
}
