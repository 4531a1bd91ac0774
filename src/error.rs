//! The tool error as plain Rust (mirrors WIT `tools.tool-error`).

/// The class of a tool failure (WIT `tools.error-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArguments,
    UnknownTool,
    ApiError,
    Transport,
    OutcomeUnknown,
    Denied,
    NotFound,
    Internal,
}

/// A failure a model can act on (WIT `tools.tool-error`), boxed so that
/// `Result<_, ToolError>` stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(pub Box<ToolErrorData>);

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
    pub kind: ErrorKind,
    pub code: Option<i64>,
    pub title: String,
    pub details: String,
    pub hint: String,
    pub retryable: bool,
    pub field: Option<String>,
    pub fbtrace_id: Option<String>,
    pub http_status: Option<u16>,
}

impl ToolError {
    /// A bare error of `kind`; refine with the builder methods.
    pub fn new(
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
        }))
    }

    /// An argument broke a rule; nothing was sent.
    pub fn invalid(
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
    pub fn internal(
        title: impl Into<String>,
        details: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ToolError::new(ErrorKind::Internal, title, details, hint)
    }

    pub fn with_code(mut self, code: i64) -> Self {
        self.code = Some(code);
        self
    }

    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Notes how many attempts were made when more than one was.
    pub fn after_attempts(mut self, attempts: u32) -> Self {
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
