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

#[cfg(test)]
mod tests {
    use super::super::test_redis::TestRedis;
    use super::super::{Record, now_ms};
    use super::*;

    async fn all_records(store: &StateStore) -> Vec<Record> {
        let mut out = Vec::new();
        for table in Table::ALL {
            out.extend(store.records(table).await.unwrap());
        }
        out
    }

    /// Same keys and values; expiries within a second of each other.
    fn assert_same(a: &[Record], b: &[Record]) {
        assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
        for (x, y) in a.iter().zip(b) {
            assert_eq!((x.table, &x.key, &x.value), (y.table, &y.key, &y.value));
            match (x.expires_at_ms, y.expires_at_ms) {
                (None, None) => {}
                (Some(p), Some(q)) => assert!(p.abs_diff(q) <= 1000, "{} {p} vs {q}", x.key),
                other => panic!("{}: expiry {other:?}", x.key),
            }
        }
    }

    #[tokio::test]
    async fn a_file_copied_to_redis_and_back_keeps_every_live_record_and_its_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateStore::open(&dir.path().join("a.redb")).unwrap();
        let entries: [(Table, &str, &[u8], Option<u32>); 6] = [
            (Table::Kv, "msg/wamid.1", b"{\"to\":\"1555\"}", Some(600)),
            (Table::Kv, "pref/1555", b"{\"marketing\":false}", None),
            (
                Table::Kv,
                "inbox/conv/+15551234567",
                b"{\"unread\":2}",
                Some(3600),
            ),
            (Table::WebhookQueue, "q/0001", b"{\"entry\":[]}", None),
            (
                Table::WebhookQueue,
                "dead/0002",
                b"{\"reason\":\"x\"}",
                Some(86_400),
            ),
            (
                Table::Host,
                "rate/a/b/c",
                &[0, 0, 1, 2, 3, 4, 5, 6],
                Some(62),
            ),
        ];
        for (table, key, value, ttl) in entries {
            file.set(table, key, value.to_vec(), ttl).await.unwrap();
        }
        file.set(Table::Kv, "gone", b"x".to_vec(), Some(1))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let before = all_records(&file).await;
        assert_eq!(before.len(), 6, "the expired record is not live");

        let server = TestRedis::start();
        let redis = server.store(9).await;
        let report = copy_all(&file, &redis).await.unwrap();
        assert_eq!(report.total(), 6);
        assert_same(&before, &all_records(&redis).await);

        let back = StateStore::open(&dir.path().join("b.redb")).unwrap();
        copy_all(&redis, &back).await.unwrap();
        assert_same(&before, &all_records(&back).await);
        assert_eq!(back.get(Table::Kv, "gone").await.unwrap(), None);
        let expiry = |records: &[Record]| {
            records
                .iter()
                .find(|r| r.key == "msg/wamid.1")
                .and_then(|r| r.expires_at_ms)
                .unwrap()
        };
        let left = expiry(&all_records(&back).await).saturating_sub(now_ms());
        assert!(
            (598_000..=600_000).contains(&left),
            "{left} ms left of 600 s"
        );
    }
}
