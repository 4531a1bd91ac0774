//! The tool error as plain Rust (mirrors WIT `tools.tool-error`).

/// The class of a tool failure (WIT `tools.error-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The arguments broke a rule; nothing was sent. `field` names the argument.
    InvalidArguments,
    /// No tool has this name.
    UnknownTool,
    /// The Graph API answered with an error; `code` is Meta's error code.
    ApiError,
    /// The request could not be completed on the wire and was not delivered.
    Transport,
    /// The request may have reached WhatsApp but no answer came back.
    OutcomeUnknown,
    /// The host refused the request (allowlist, credential, guardrail).
    Denied,
    /// The message or resource is not known.
    NotFound,
    /// Local state or configuration is missing or broken.
    Internal,
}

/// A failure a model can act on (WIT `tools.tool-error`), boxed so that
/// `Result<_, ToolError>` stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(pub(crate) Box<ToolErrorData>);

impl std::ops::Deref for ToolError {
    type Target = ToolErrorData;
    fn deref(&self) -> &ToolErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for ToolError {
    fn deref_mut(&mut self) -> &mut ToolErrorData {
        &mut self.0
    }
}

/// The fields of a [`ToolError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolErrorData {
    /// The class of failure.
    pub kind: ErrorKind,
    /// Meta's numeric error code, for API errors and errors shaped like them.
    pub code: Option<i64>,
    /// Short title, for example `Re-engagement message`.
    pub title: String,
    /// What happened, with specifics.
    pub details: String,
    /// What to do next.
    pub hint: String,
    /// Whether repeating the same call later may succeed.
    pub retryable: bool,
    /// The argument at fault, as a path like `components[0].parameters`.
    pub field: Option<String>,
    /// Meta's trace id, for support requests.
    pub fbtrace_id: Option<String>,
    /// HTTP status of the API response, when there was one.
    pub http_status: Option<u16>,
    /// Meta's error subcode, when given.
    pub error_subcode: Option<i64>,
    /// Meta's title for the user (`error_user_title`), when given.
    pub error_user_title: Option<String>,
    /// Meta's message for the user (`error_user_msg`), when given.
    pub error_user_msg: Option<String>,
    /// For rate limits: seconds until Meta expects the quota back.
    pub retry_after_seconds: Option<u32>,
}

impl ToolError {
    /// A bare error of `kind`; refine with the builder methods.
    pub(crate) fn new(
        kind: ErrorKind,
        title: impl Into<String>,
        details: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ToolError(Box::new(ToolErrorData {
            kind,
            code: None,
            title: title.into(),
            details: details.into(),
            hint: hint.into(),
            retryable: false,
            field: None,
            fbtrace_id: None,
            http_status: None,
            error_subcode: None,
            error_user_title: None,
            error_user_msg: None,
            retry_after_seconds: None,
        }))
    }

    /// An argument broke a rule; nothing was sent.
    pub(crate) fn invalid(
        field: impl Into<String>,
        title: impl Into<String>,
        details: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        let mut e = ToolError::new(ErrorKind::InvalidArguments, title, details, hint);
        e.field = Some(field.into());
        e
    }

    /// Local state or configuration is missing or broken.
    pub(crate) fn internal(
        title: impl Into<String>,
        details: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ToolError::new(ErrorKind::Internal, title, details, hint)
    }

    pub(crate) fn with_code(mut self, code: i64) -> Self {
        self.code = Some(code);
        self
    }

    pub(crate) fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    pub(crate) fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Notes how many attempts were made when more than one was.
    pub(crate) fn after_attempts(mut self, attempts: u32) -> Self {
        if attempts > 1 {
            self.details
                .push_str(&format!(" (after {attempts} attempts)"));
        }
        self
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.title, self.details, self.hint)
    }
}
