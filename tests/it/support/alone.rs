//! Running one test alone in a process of its own: the same test binary
//! again, with only that test selected (`--exact`), for tests that need
//! process-wide state (a tracing subscriber, environment variables) no
//! other test of this binary may share.

use std::process::Command;

/// Set, to the test's name, in the process that runs a test alone.
const ALONE: &str = "CAFE_TEST_ALONE";

/// The name the test harness gives the test `function` of the module
/// `module` (its `module_path!()`, whose first part is this binary's crate).
pub fn test_name(module: &str, function: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    format!("{module}::{function}")
}

/// Whether this process is the one running `name` alone.
pub fn is_alone(name: &str) -> bool {
    std::env::var_os(ALONE).is_some_and(|value| value == name)
}

/// Runs the test `name` (see [`test_name`]) again, alone, in a new process
/// of this binary with `envs` added to its environment, and asserts that it
/// ran and passed.
pub fn run_alone<'a>(name: &str, envs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let me = std::env::current_exe().expect("this test binary");
    let output = Command::new(me)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(envs)
        .env(ALONE, name)
        .output()
        .expect("run the test again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name}, run alone:\n{stdout}\n{stderr}"
    );
}
