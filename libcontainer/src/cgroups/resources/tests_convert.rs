//! Unit tests of the pure conversions and formats (convert.rs).

use super::convert::*;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxRdma};

#[test]
fn shares_convert_to_weight() {
    assert_eq!(shares_to_weight(0), Some(0));
    assert_eq!(shares_to_weight(2), Some(1));
    assert_eq!(shares_to_weight(1024), Some(39));
    assert_eq!(shares_to_weight(512), Some(20));
    assert_eq!(shares_to_weight(262_144), Some(10_000));
    assert_eq!(shares_to_weight(1), None);
    assert_eq!(shares_to_weight(262_145), None);
}

#[test]
fn blkio_weight_converts_to_io_weight() {
    assert_eq!(blkio_weight_to_io_weight(0), Some(0));
    assert_eq!(blkio_weight_to_io_weight(10), Some(1));
    assert_eq!(blkio_weight_to_io_weight(500), Some(4950));
    assert_eq!(blkio_weight_to_io_weight(1000), Some(10_000));
    assert_eq!(blkio_weight_to_io_weight(9), None);
    assert_eq!(blkio_weight_to_io_weight(1001), None);
}

#[test]
fn swap_converts_to_v2() {
    const M: i64 = 64 << 20;
    assert_eq!(memory_swap_to_v2(2 * M, M), Ok(M));
    assert_eq!(memory_swap_to_v2(M, M), Ok(0)); // no swap at all
    assert_eq!(memory_swap_to_v2(0, -1), Ok(-1)); // unlimited memory: unlimited swap
    assert_eq!(memory_swap_to_v2(0, M), Ok(0)); // unset stays unset
    assert_eq!(memory_swap_to_v2(-1, M), Ok(-1));
    assert_eq!(memory_swap_to_v2(M, -1), Ok(M));
    assert!(memory_swap_to_v2(M, 0).unwrap_err().contains("needs a memory limit"));
    assert!(memory_swap_to_v2(M, 2 * M).unwrap_err().contains("must not be below"));
    assert!(memory_swap_to_v2(M, -5).is_err());
}

#[test]
fn limit_and_cpu_max_formats() {
    assert_eq!(v2_limit(0), None);
    assert_eq!(v2_limit(-1).as_deref(), Some("max"));
    assert_eq!(v2_limit(4096).as_deref(), Some("4096"));
    assert_eq!(pids_max(20), "20");
    assert_eq!(pids_max(0), "max");
    assert_eq!(pids_max(-1), "max");
    assert_eq!(cpu_max(Some(50_000), Some(100_000), None).as_deref(), Some("50000 100000"));
    assert_eq!(cpu_max(Some(-1), Some(100_000), None).as_deref(), Some("max 100000"));
    assert_eq!(cpu_max(Some(20_000), None, None).as_deref(), Some("20000"));
    assert_eq!(cpu_max(Some(-1), None, None).as_deref(), Some("max"));
    // Only the period: keep the current quota.
    assert_eq!(cpu_max(None, Some(50_000), Some("20000 100000\n")).as_deref(), Some("20000 50000"));
    assert_eq!(cpu_max(Some(0), Some(50_000), None).as_deref(), Some("max 50000"));
    assert_eq!(cpu_max(Some(0), Some(0), Some("1 2")), None);
    assert_eq!(cpu_max(None, None, None), None);
}

#[test]
fn names_that_become_paths_or_values() {
    for ok in ["2MB", "1GB", "64KB", "16GB"] {
        assert!(valid_hugepage_size(ok), "{ok}");
    }
    for bad in ["", "MB", "2mb", "2 MB", "2MB/../x", "../2MB", "2TB", "-2MB"] {
        assert!(!valid_hugepage_size(bad), "{bad}");
    }
    assert_eq!(check_unified_key("memory.high"), Ok("memory"));
    assert_eq!(check_unified_key("cgroup.max.depth"), Ok("cgroup"));
    for bad in ["memory", "../memory.max", "a/b.c", ".max", "memory.", "..", "."] {
        assert!(check_unified_key(bad).is_err(), "{bad}");
    }
    assert!(valid_word("mlx4_0") && !valid_word("") && !valid_word("a b") && !valid_word("a\nb"));
    let both: LinuxRdma = serde_json::from_str(r#"{"hcaHandles": 2, "hcaObjects": 2000}"#).unwrap();
    assert_eq!(rdma_line("mlx4_0", &both).as_deref(), Some("mlx4_0 hca_handle=2 hca_object=2000"));
    let none: LinuxRdma = serde_json::from_str("{}").unwrap();
    assert_eq!(rdma_line("mlx4_0", &none), None);
}

fn rule(json: &str) -> LinuxDeviceCgroup {
    serde_json::from_str(json).unwrap()
}

#[test]
fn device_rules_in_v1_syntax() {
    let one = |j: &str| device_rule_writes(0, &rule(j)).unwrap();
    assert_eq!(one(r#"{"allow": false, "access": "rwm"}"#), [(false, "a *:* rwm".to_string())]);
    assert_eq!(
        one(r#"{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}"#),
        [(true, "c 1:3 rwm".into())]
    );
    assert_eq!(one(r#"{"allow": true, "type": "c", "major": 136, "access": "rw"}"#), [(true, "c 136:* rw".into())]);
    assert_eq!(
        one(r#"{"allow": true, "type": "b", "major": -1, "minor": -1, "access": "m"}"#),
        [(true, "b *:* m".into())]
    );
    assert_eq!(one(r#"{"allow": true, "type": "u", "major": 5, "minor": 0}"#), [(true, "c 5:0 rwm".into())]);
    // "a" with a number or partial access would be a full reset to the kernel: split.
    assert_eq!(
        one(r#"{"allow": true, "type": "a", "major": 1, "minor": 3, "access": "r"}"#),
        [(true, "b 1:3 r".into()), (true, "c 1:3 r".into())]
    );
    assert_eq!(one(r#"{"allow": false, "access": "m"}"#), [(false, "b *:* m".into()), (false, "c *:* m".into())]);
    for (bad, why) in [
        (r#"{"allow": true, "type": "p", "major": 1, "minor": 1}"#, "FIFOs"),
        (r#"{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwx"}"#, "only contain r, w and m"),
        (r#"{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r\nc 1:1 rwm"}"#, "r, w and m"),
        (r#"{"allow": true, "type": "c", "major": -7, "minor": 3}"#, "negative"),
    ] {
        let e = device_rule_writes(4, &rule(bad)).unwrap_err();
        assert!(e.to_string().starts_with("invalid linux.resources.devices[4]"), "{e}");
        assert!(e.to_string().contains(why), "{e}");
    }
}
