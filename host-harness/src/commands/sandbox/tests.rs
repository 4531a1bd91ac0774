//! A build without the `sandbox` feature: every command that needs the
//! sandbox says so instead of failing some other way.

use super::*;

fn says_not_built(result: anyhow::Result<impl std::fmt::Debug>) {
    match result {
        Err(e) => assert_eq!(format!("{e:#}"), NOT_BUILT),
        Ok(v) => panic!("succeeded without a sandbox: {v:?}"),
    }
}

#[tokio::test]
async fn without_the_feature_sandbox_demo_and_bench_say_this_build_has_no_sandbox() {
    says_not_built(run_standalone(StandaloneOptions::default()).await);
    says_not_built(run_demo(ComponentSource::Embedded).await);
    says_not_built(run_bench(ComponentSource::Embedded, true).await);
}

#[tokio::test]
async fn without_the_feature_the_sandbox_flag_says_this_build_has_no_sandbox() {
    let mut settings = Settings::default();
    let mut secrets = EnvSecrets::default();
    let started = LocalSandbox::start(None, &[], &mut settings, &mut secrets).await;
    says_not_built(started.map(|_| ()));
}
