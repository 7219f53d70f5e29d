//! Mount option lists (`mounts[].options`): newline- or NUL-split input is an option list;
//! parsing never panics, a flag is never both set and cleared, and the filesystem data
//! is made only of the words the parser did not know, in order.
#![no_main]

use libcontainer::plan::options::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts: Vec<String> = text.split(['\n', '\0']).map(str::to_string).collect();
    if let Ok(parsed) = parse(&opts) {
        assert!((parsed.flags & parsed.cleared).is_empty(), "{opts:?}: a flag both set and cleared: {parsed:?}");
        let unknown: Vec<&str> = opts
            .iter()
            .map(String::as_str)
            .filter(|w| parse(&[w.to_string()]).map(|p| !p.data.is_empty()).unwrap_or(false))
            .collect();
        assert_eq!(parsed.data, unknown.join(","), "{opts:?}");
    }
});
