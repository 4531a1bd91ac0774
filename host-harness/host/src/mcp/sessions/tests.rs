//! The session registry on its own: places counted, owners told apart.

use std::sync::Arc;
use std::time::Duration;

use super::{Access, SessionLimits, SessionRegistry};

fn registry(max_sessions: usize) -> Arc<SessionRegistry> {
    Arc::new(SessionRegistry::new(SessionLimits {
        max_sessions,
        idle: Duration::from_secs(60),
    }))
}

#[test]
fn only_the_app_that_opened_a_session_may_use_it() {
    let r = registry(10);
    r.reserve()
        .unwrap()
        .record("s-alpha".into(), Some("alpha".into()));
    assert_eq!(r.access("s-alpha", Some("alpha")), Access::Owner);
    assert_eq!(r.access("s-alpha", Some("beta")), Access::Stranger);
    assert_eq!(r.access("s-alpha", None), Access::Stranger);
    assert_eq!(r.access("s-other", Some("alpha")), Access::Unknown);
}

#[test]
fn without_app_keys_every_caller_is_the_owner() {
    let r = registry(10);
    r.reserve().unwrap().record("s-open".into(), None);
    assert_eq!(r.access("s-open", None), Access::Owner);
    assert_eq!(r.access("s-open", Some("alpha")), Access::Stranger);
}

#[test]
fn places_being_opened_count_against_the_cap_and_come_back_if_abandoned() {
    let r = registry(2);
    let first = r.reserve().unwrap();
    let second = r.reserve().unwrap();
    assert!(r.reserve().is_none(), "two places, both taken");
    assert!(r.is_full());
    drop(second);
    assert!(!r.is_full(), "an abandoned opening gives its place back");
    first.record("s-1".into(), None);
    assert_eq!(r.live(), 1);
    let third = r.reserve().unwrap();
    third.record("s-2".into(), None);
    assert!(r.reserve().is_none());
    r.forget(&"s-1".into());
    assert_eq!(r.live(), 1);
    assert!(
        r.reserve().is_some(),
        "a closed session gives its place back"
    );
}

#[test]
fn retry_after_is_when_the_first_idle_session_ends_and_never_zero() {
    let r = registry(1);
    assert_eq!(r.retry_after(), Duration::from_secs(1));
    r.reserve().unwrap().record("s-1".into(), None);
    let wait = r.retry_after();
    assert!(
        wait > Duration::from_secs(1) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
}
