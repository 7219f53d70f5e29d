//! Reading `/etc/passwd`-format text, for a user's name (runc's `list` owner column) and
//! home directory (`HOME` of the container's process when the config sets none).

/// One entry of a passwd file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub home: String,
}

/// The entry for `uid` in passwd-format `text`.
pub fn lookup(text: &str, uid: u32) -> Option<Entry> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid))
            .then(|| Entry { name: f[0].to_string(), home: f[5].to_string() })
    })
}

/// The entry for `uid` in the `/etc/passwd` of the current root.
pub fn lookup_file(uid: u32) -> Option<Entry> {
    lookup(&std::fs::read_to_string("/etc/passwd").ok()?, uid)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_by_uid() {
        let t = "root:x:0:0:root:/root:/bin/sh\nbad line\nuser:x:1000:1000::/home/user:/bin/sh\n";
        assert_eq!(super::lookup(t, 1000).unwrap().home, "/home/user");
        assert_eq!(super::lookup(t, 0).unwrap().name, "root");
        assert_eq!(super::lookup(t, 5), None);
    }
}
