//! berth's command line: NUL- or newline-separated words are parsed as berth's arguments
//! (clap with berth's own definitions) without panicking; `exec --user` and `--cgroup`
//! values that parse go through berth's strict parsers, which accept only numbers for
//! users and never an empty controller.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../runtime-bin/src/cli.rs"]
mod cli;
#[allow(dead_code)]
#[path = "../../runtime-bin/src/parse.rs"]
mod parse;

/// Whatever `parse_user` accepts is digits and ':' only.
fn check_user(u: &str) {
    if parse::parse_user(u).is_ok() {
        assert!(u.bytes().all(|b| b.is_ascii_digit() || b == b':'), "--user {u:?} accepted");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let words: Vec<&str> = text.split(['\n', '\0']).collect();
    let argv = std::iter::once("berth").chain(words.iter().copied());
    if let Ok(cli::Cli { command: Some(cli::Command::Exec(e)), .. }) = cli::Cli::try_parse_from(argv) {
        if let Some(u) = &e.user {
            check_user(u);
        }
        if let Ok(m) = parse::parse_sub_cgroups(&e.cgroup) {
            assert!(m.keys().all(|k| !k.contains(',') && !k.contains(':')), "--cgroup {:?} -> {m:?}", e.cgroup);
        }
    }
    // The --user parser on its own, on every word.
    words.iter().for_each(|w| check_user(w));
});
