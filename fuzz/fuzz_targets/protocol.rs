//! The runtime↔init message decoder (CVE-2021-43784: runc's bootstrap message had an
//! integer overflow that let a container's config inject attributes). Any bytes must
//! decode or fail cleanly, and whatever decodes must encode again and decode to itself.
#![no_main]

use libcontainer::protocol::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        let bytes = m.encode().expect("a decoded message encodes");
        let again = Message::decode(&bytes).expect("an encoded message decodes");
        assert_eq!(m, again, "decode(encode(m)) != m");
    }
});
