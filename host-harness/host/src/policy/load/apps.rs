//! Validating the apps of a policy file: names, key hashes and tools.

use std::collections::{BTreeSet, HashSet};

use super::loader::Loader;
use super::raw::RawApp;
use super::values::{line_of, suggest, valid_name};
use crate::policy::model::{App, DEFAULT_MAX_CONCURRENT, MAX_CONCURRENT_LIMIT};
use crate::tool::Category;

impl Loader<'_> {
    pub(super) fn app(
        &mut self,
        raw: RawApp,
        names: &mut HashSet<String>,
        hashes: &mut HashSet<[u8; 32]>,
        ids: &mut HashSet<String>,
    ) -> Option<App> {
        let line = Some(line_of(self.text, raw.name.span().start));
        let name = raw.name.into_inner();
        let place = format!("app `{name}`");
        if !valid_name(&name) {
            self.problem(
                line,
                &place,
                "the name is not 1 to 64 letters, digits, `_`, `-` or `.`".into(),
                "rename the app, e.g. `support-bot`",
            );
        }
        if !names.insert(name.clone()) {
            self.problem(
                line,
                &place,
                "another app has the same name".into(),
                "give each app its own name",
            );
        }
        if raw.key.is_some() {
            self.problem(
                line,
                &place,
                "the API key itself is in the file; only its hash may be stored".into(),
                "remove `key` and set key_hash to the line printed by \
                 `host-harness policy hash-key` (it reads the key on stdin)",
            );
        }
        let key_hash = match raw.key_hash.as_deref() {
            None => None,
            Some(text) => {
                let parsed = text
                    .trim()
                    .strip_prefix("sha256:")
                    .and_then(|h| hex::decode(h).ok())
                    .and_then(|b| <[u8; 32]>::try_from(b).ok());
                match parsed {
                    Some(hash) => {
                        if !hashes.insert(hash) {
                            self.problem(
                                line,
                                &place,
                                "another app has the same key_hash, so a key could not tell \
                                 them apart"
                                    .into(),
                                "give each app its own key (`host-harness policy hash-key \
                                 --generate`)",
                            );
                        }
                        Some(hash)
                    }
                    None => {
                        self.problem(
                            line,
                            &place,
                            format!("key_hash `{text}` is not `sha256:` followed by 64 hex digits"),
                            "set it to the line printed by `host-harness policy hash-key`",
                        );
                        None
                    }
                }
            }
        };
        let tools = match self.resolve_tools(&raw.tools) {
            Ok(tools) => tools,
            Err(bad) => {
                for (what, fix) in bad {
                    self.problem(line, &format!("{place}, tools"), what, fix);
                }
                Vec::new()
            }
        };
        let max_concurrent = match raw.max_concurrent {
            None => DEFAULT_MAX_CONCURRENT,
            Some(n) if (1..=i64::from(MAX_CONCURRENT_LIMIT)).contains(&n) => n as u32,
            Some(n) => {
                self.problem(
                    line,
                    &place,
                    format!("max_concurrent = {n} is not between 1 and {MAX_CONCURRENT_LIMIT}"),
                    format!(
                        "set how many calls the app may have running at once, e.g. \
                         max_concurrent = {DEFAULT_MAX_CONCURRENT} (the default)"
                    ),
                );
                DEFAULT_MAX_CONCURRENT
            }
        };
        let rules = raw
            .rules
            .into_iter()
            .filter_map(|r| self.rule(r, Some(&name), ids))
            .collect();
        Some(App {
            name,
            description: raw.description,
            key_hash,
            tools,
            max_concurrent: Some(max_concurrent),
            rules,
        })
    }

    /// Tool names, categories or `*`, as tool names in the component's order.
    pub(super) fn resolve_tools(
        &self,
        selectors: &[String],
    ) -> Result<Vec<String>, Vec<(String, String)>> {
        let mut chosen = BTreeSet::new();
        let mut bad = Vec::new();
        for selector in selectors {
            let s = selector.trim();
            let category = match s {
                "read" => Some(Category::Read),
                "write" => Some(Category::Write),
                "delete" => Some(Category::Delete),
                _ => None,
            };
            let matched: Vec<usize> = self
                .tools
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    s == "*" || s == "all" || Some(t.category) == category || t.name == s
                })
                .map(|(i, _)| i)
                .collect();
            if matched.is_empty() && category.is_none() {
                bad.push((
                    format!("`{s}` is not a tool of this component"),
                    format!(
                        "{}use a tool name ({}), a category (read, write, delete) or \"*\"",
                        suggest(s, self.tools.iter().map(|t| t.name.as_str())),
                        self.tools
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            chosen.extend(matched);
        }
        if bad.is_empty() {
            Ok(chosen
                .into_iter()
                .map(|i| self.tools[i].name.clone())
                .collect())
        } else {
            Err(bad)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{Policy, ToolInfo};
    use crate::tool::Category;

    fn parse(app_settings: &str) -> Result<Policy, String> {
        let tools = [ToolInfo {
            name: "whatsapp_send_message".into(),
            category: Category::Write,
            fields: vec!["to".into(), "text".into()],
        }];
        let text =
            format!("version = 1\n[[apps]]\nname = \"bot\"\ntools = [\"*\"]\n{app_settings}\n");
        Policy::parse(&text, "p.toml", &tools).map_err(|e| e.to_string())
    }

    #[test]
    fn an_app_runs_at_most_32_calls_at_once_unless_its_max_concurrent_says_otherwise() {
        let policy = parse("").unwrap();
        assert_eq!(policy.app("bot").unwrap().max_concurrent(), Some(32));
        let policy = parse("max_concurrent = 4").unwrap();
        assert_eq!(policy.app("bot").unwrap().max_concurrent(), Some(4));
        let open = Policy::open(&[]);
        assert_eq!(open.apps()[0].max_concurrent(), None, "no policy, no cap");
    }

    #[test]
    fn a_max_concurrent_below_one_or_absurdly_large_is_refused_with_the_fix() {
        for bad in ["0", "-3", "1000000"] {
            let e = parse(&format!("max_concurrent = {bad}")).unwrap_err();
            assert!(e.contains(&format!("max_concurrent = {bad}")), "{e}");
            assert!(
                e.contains("app `bot`") && e.contains("e.g. max_concurrent = 32"),
                "{e}"
            );
        }
    }
}
