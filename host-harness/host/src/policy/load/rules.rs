//! Validating the rules of a policy file: ids, templates, settings, the
//! tools they are attached to and the fields they read.

use std::collections::HashSet;

use super::loader::Loader;
use super::raw::{RawRule, example, settings_of};
use super::templates::build_check;
use super::values::{line_of, suggest, valid_name};
use crate::policy::model::{Rule, TEMPLATES, TOOL_NOT_ENABLED, UNKNOWN_APP};

impl Loader<'_> {
    pub(super) fn rule(
        &mut self,
        raw: RawRule,
        app: Option<&str>,
        ids: &mut HashSet<String>,
    ) -> Option<Rule> {
        let line = Some(line_of(self.text, raw.id.span().start));
        let id = raw.id.get_ref().clone();
        let place = match app {
            Some(app) => format!("rule `{id}` (app `{app}`)"),
            None => format!("rule `{id}`"),
        };
        let before = self.problems.len();
        if !valid_name(&id) {
            self.problem(
                line,
                &place,
                "the id is not 1 to 64 letters, digits, `_`, `-` or `.`".into(),
                "use an id like `only-our-numbers`",
            );
        } else if id == TOOL_NOT_ENABLED || id == UNKNOWN_APP {
            self.problem(
                line,
                &place,
                format!("`{id}` is reserved for the host's own denials"),
                "choose another id",
            );
        }
        if !ids.insert(id.clone()) {
            self.problem(
                line,
                &place,
                "another rule has the same id".into(),
                "give every rule in the file its own id: denials and the audit log name it",
            );
        }
        let Some(template) = TEMPLATES.iter().copied().find(|t| *t == raw.template) else {
            self.problem(
                line,
                &place,
                format!("`{}` is not a rule template", raw.template),
                format!(
                    "{}use one of: {}",
                    suggest(&raw.template, TEMPLATES),
                    TEMPLATES.join(", ")
                ),
            );
            return None;
        };
        let (required, optional) = settings_of(template);
        let given = raw.given();
        for name in &given {
            if !required.contains(name) && !optional.contains(name) {
                let mut takes: Vec<&str> = required.to_vec();
                takes.extend(optional.iter().copied());
                self.problem(
                    line,
                    &place,
                    format!("`{name}` is not a setting of {template}"),
                    format!(
                        "remove it; {template} takes {} (and id, template, tools, message)",
                        takes.join(", ")
                    ),
                );
            }
        }
        for name in required {
            if !given.contains(name) {
                self.problem(
                    line,
                    &place,
                    format!("{template} needs `{name}`"),
                    format!("add `{name} = …` to the rule ({})", example(name)),
                );
            }
        }
        if raw.tools.is_empty() {
            self.problem(
                line,
                &place,
                "the rule is attached to no tool".into(),
                "set tools to tool names, categories (read, write, delete) or [\"*\"]",
            );
        }
        let tools = match self.resolve_tools(&raw.tools) {
            Ok(tools) => tools,
            Err(bad) => {
                for (what, fix) in bad {
                    self.problem(line, &place, what, fix);
                }
                Vec::new()
            }
        };
        if let Some(field) = &raw.field {
            self.check_field(line, &place, field, &tools);
        }
        if self.problems.len() > before {
            return None;
        }
        let mut invalid = None;
        let check = build_check(template, raw.clone_settings(), &mut invalid);
        if let Some((what, fix)) = invalid {
            self.problem(line, &place, what, fix);
        }
        let check = check?;
        if self.problems.len() > before {
            return None;
        }
        Some(Rule {
            id,
            template,
            tools,
            message: raw.message,
            check,
        })
    }

    /// Every tool the rule is attached to must have `field`.
    fn check_field(&mut self, line: Option<usize>, place: &str, field: &str, tools: &[String]) {
        let having: Vec<&str> = self
            .tools
            .iter()
            .filter(|t| t.fields.iter().any(|f| f == field))
            .map(|t| t.name.as_str())
            .collect();
        for tool in tools {
            let info = self.tools.iter().find(|t| &t.name == tool);
            let Some(info) = info else { continue };
            if info.fields.iter().any(|f| f == field) {
                continue;
            }
            let fix = if having.is_empty() {
                format!(
                    "{}`{tool}` takes: {}",
                    suggest(field, info.fields.iter().map(String::as_str)),
                    info.fields.join(", ")
                )
            } else {
                format!(
                    "attach the rule only to tools that have `{field}` ({}), or name one of \
                     `{tool}`'s arguments ({})",
                    having.join(", "),
                    info.fields.join(", ")
                )
            };
            self.problem(
                line,
                place,
                format!("the field `{field}` is not an argument of the tool `{tool}`"),
                fix,
            );
        }
    }
}
