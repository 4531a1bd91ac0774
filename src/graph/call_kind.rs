//! What a Graph call is, for the mapping of its failures: whether it is a
//! send (a lost answer then means an unknown outcome) and which permission
//! it needs (named in permission errors). The permissions are Meta's:
//! https://developers.facebook.com/docs/permissions#w

pub(crate) const SCOPE_MESSAGING: &str = "whatsapp_business_messaging";
pub(crate) const SCOPE_MANAGEMENT: &str = "whatsapp_business_management";

/// What kind of call a request is, for error mapping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallKind {
    /// A non-idempotent send: a lost answer means the outcome is unknown.
    pub(crate) is_send: bool,
    /// The permission the endpoint needs, named in permission errors.
    pub(crate) scope: &'static str,
}

pub(crate) const SEND: CallKind = CallKind {
    is_send: true,
    scope: SCOPE_MESSAGING,
};
pub(crate) const MANAGE: CallKind = CallKind {
    is_send: false,
    scope: SCOPE_MANAGEMENT,
};
pub(crate) const READ_MESSAGING: CallKind = CallKind {
    is_send: false,
    scope: SCOPE_MESSAGING,
};
pub(crate) const PROFILE: CallKind = CallKind {
    is_send: false,
    scope: "whatsapp_business_management and whatsapp_business_messaging",
};
