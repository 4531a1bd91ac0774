//! What a check found, and the report `doctor` prints.

use serde::Serialize;

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Status {
    Pass,
    Warn,
    Fail,
    /// Not run: an earlier check failed.
    Skip,
}

impl Status {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One check: what it saw and, unless it passed, how to fix it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) status: Status,
    pub(crate) detail: String,
    pub(crate) fix: Option<String>,
}

impl Check {
    pub(crate) fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(crate) fn warn(
        name: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub(crate) fn fail(
        name: &'static str,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub(crate) fn skip(name: &'static str, why: &str) -> Check {
        Check {
            name,
            status: Status::Skip,
            detail: format!("not checked: {why}"),
            fix: None,
        }
    }
}

/// The checks as text: one line per check, its fix under it.
pub(crate) fn render(checks: &[Check], target: &str) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = format!("host-harness doctor: {target}\n\n");
    for c in checks {
        out.push_str(&format!(
            "{}  {:<width$}  {}\n",
            c.status.label(),
            c.name,
            c.detail
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("      {:<width$}  fix: {fix}\n", ""));
        }
    }
    let count = |s| checks.iter().filter(|c| c.status == s).count();
    out.push_str(&format!(
        "\n{} passed, {} warning(s), {} failed, {} skipped\n",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendering_puts_each_fix_under_its_check_and_counts_them() {
        let checks = vec![
            Check::pass("a", "fine"),
            Check::warn("bb", "soon", "renew"),
            Check::fail("c", "broken", "repair"),
            Check::skip("d", "c failed"),
        ];
        let text = render(&checks, "http://x v23.0");
        assert!(text.contains("PASS  a   fine\n"), "{text}");
        assert!(
            text.contains("WARN  bb  soon\n          fix: renew\n"),
            "{text}"
        );
        assert!(text.contains("FAIL  c   broken\n"), "{text}");
        assert!(text.contains("SKIP  d   not checked: c failed\n"), "{text}");
        assert!(
            text.contains("1 passed, 1 warning(s), 1 failed, 1 skipped"),
            "{text}"
        );
    }
}
