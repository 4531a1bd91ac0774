//! The validation of a whole policy file: every problem found is collected,
//! each with its line, the rule or app, what is wrong and how to fix it.

use std::collections::HashSet;

use super::raw::RawPolicy;
use crate::policy::error::Problem;
use crate::policy::model::{Policy, Rule, ToolInfo};

/// A policy file being validated.
pub(super) struct Loader<'a> {
    pub(super) text: &'a str,
    pub(super) tools: &'a [ToolInfo],
    pub(super) problems: Vec<Problem>,
}

impl Loader<'_> {
    pub(super) fn problem(
        &mut self,
        line: Option<usize>,
        place: &str,
        what: String,
        fix: impl Into<String>,
    ) {
        self.problems.push(Problem {
            line,
            place: place.to_string(),
            what,
            fix: fix.into(),
        });
    }

    pub(super) fn policy(&mut self, raw: RawPolicy, origin: &str) -> Policy {
        if let Some(v) = raw.version
            && v != 1
        {
            self.problem(
                None,
                "",
                format!("version {v} is not supported"),
                "use version = 1 or leave it out",
            );
        }
        if raw.apps.is_empty() {
            self.problem(
                None,
                "",
                "no apps are defined, so no client could use any tool".into(),
                "add at least one [[apps]] table with a name, a key_hash and tools",
            );
        }
        let mut ids = HashSet::new();
        let global: Vec<Rule> = raw
            .rules
            .into_iter()
            .filter_map(|r| self.rule(r, None, &mut ids))
            .collect();
        let mut names = HashSet::new();
        let mut hashes = HashSet::new();
        let mut apps = Vec::new();
        for raw_app in raw.apps {
            if let Some(app) = self.app(raw_app, &mut names, &mut hashes, &mut ids) {
                apps.push(app);
            }
        }
        Policy {
            origin: origin.into(),
            open: false,
            apps,
            global,
        }
    }
}
