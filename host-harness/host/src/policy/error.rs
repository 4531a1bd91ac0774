//! A policy file that cannot be used, and everything wrong with it.

use std::fmt;

/// A policy file that cannot be used, and everything wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The file (or other origin) the policy came from.
    pub origin: String,
    /// Every problem found, in file order.
    pub problems: Vec<Problem>,
}

/// One thing wrong with a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The line it is on, when it has one.
    pub line: Option<usize>,
    /// `rule `x` (app `y`)`, `app `y``, or empty for the file as a whole.
    pub place: String,
    /// What is wrong.
    pub what: String,
    /// How to fix it.
    pub fix: String,
}

impl PolicyError {
    pub(crate) fn single(origin: String, what: String, fix: &str) -> PolicyError {
        PolicyError {
            origin,
            problems: vec![Problem {
                line: None,
                place: String::new(),
                what,
                fix: fix.into(),
            }],
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lead = Vec::new();
        if let Some(line) = self.line {
            lead.push(format!("line {line}"));
        }
        if !self.place.is_empty() {
            lead.push(self.place.clone());
        }
        if !lead.is_empty() {
            write!(f, "{}: ", lead.join(", "))?;
        }
        write!(f, "{}", self.what)?;
        if !self.fix.is_empty() {
            write!(f, ". Fix: {}", self.fix)?;
        }
        Ok(())
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "invalid policy file {}: {one}", self.origin),
            many => {
                write!(
                    f,
                    "invalid policy file {} ({} problems):",
                    self.origin,
                    many.len()
                )?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PolicyError {}
