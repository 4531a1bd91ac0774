//! Reading a policy file: the TOML into the model, with every problem found
//! reported at once, each with its line, the rule or app, what is wrong and
//! how to fix it.

mod apps;
mod loader;
mod raw;
mod rules;
mod templates;
mod values;

use std::path::Path;

use crate::policy::error::{PolicyError, Problem};
use crate::policy::model::{Policy, ToolInfo};
use loader::Loader;
use raw::RawPolicy;
use values::line_of;

impl Policy {
    /// Reads and validates the policy file at `path`.
    pub fn load(path: &Path, tools: &[ToolInfo]) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PolicyError::single(
                path.display().to_string(),
                format!("cannot read it: {e}"),
                "check the path given with --policy or [policy] path",
            )
        })?;
        Policy::parse(&text, &path.display().to_string(), tools)
    }

    /// Parses and validates policy `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, tools: &[ToolInfo]) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            PolicyError {
                origin: origin.into(),
                problems: vec![Problem {
                    line,
                    place: String::new(),
                    what: e.message().trim().to_string(),
                    fix: "correct the TOML (see the policy file format in the README)".into(),
                }],
            }
        })?;
        let mut loader = Loader {
            text,
            tools,
            problems: Vec::new(),
        };
        let policy = loader.policy(raw, origin);
        if loader.problems.is_empty() {
            Ok(policy)
        } else {
            Err(PolicyError {
                origin: origin.into(),
                problems: loader.problems,
            })
        }
    }
}
