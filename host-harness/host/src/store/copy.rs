//! `state copy`: every live record of every table from one store to
//! another, with its remaining time to live.
//!
//! Records are read unsealed from the source and written through the
//! target, which seals them with its own key: the two stores need not share
//! one. The webhook queue's entries are copied as the file queue keeps them
//! (key and body); a Redis deployment's queue stream is not a table and is
//! not part of the copy.

use super::{StateError, StateStore, Table};

/// What a copy did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Records copied, per table name.
    pub copied: Vec<(&'static str, usize)>,
}

impl CopyReport {
    /// Records copied in all.
    pub fn total(&self) -> usize {
        self.copied.iter().map(|(_, n)| n).sum()
    }
}

/// Copies every live record of every table of `from` into `to`, keeping
/// each one's expiry (records that expire during the copy are skipped).
pub async fn copy_all(from: &StateStore, to: &StateStore) -> Result<CopyReport, StateError> {
    let mut report = CopyReport::default();
    for table in Table::ALL {
        let mut copied = 0;
        for record in from.records(table).await? {
            if record.expires_at_ms.is_some_and(|at| at <= super::now_ms()) {
                continue;
            }
            to.put(record).await?;
            copied += 1;
        }
        report.copied.push((table.name(), copied));
    }
    Ok(report)
}
