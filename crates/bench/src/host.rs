//! Facts about the machine and the CPU time processes use, read from /proc.
//!
//! Client and server share the cores, so the report shows how much CPU each
//! side burned per phase: a server that tops out while the client idles is
//! server-bound, and the reverse means the generator is the limit.

use std::time::Duration;

/// Linux reports process times in USER_HZ ticks, 100 per second on every
/// mainstream architecture (reading `sysconf` would need `unsafe` libc).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time (user + system, all threads) used so far by process `pid`;
/// `None` when /proc cannot tell.
pub fn process_cpu_time(pid: u32) -> Option<Duration> {
    cpu_time_at(&format!("/proc/{pid}/stat"))
}

/// CPU time used so far by this load generator.
pub fn own_cpu_time() -> Option<Duration> {
    cpu_time_at("/proc/self/stat")
}

fn cpu_time_at(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may contain spaces; fields after it don't.
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime), counted from 1 over the whole line;
    // `after_name` starts at field 3.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (user + system) as f64 / TICKS_PER_SECOND,
    ))
}

/// Processor, core count, memory, OS and kernel, for the report header.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub os: String,
    pub kernel: String,
}

impl Machine {
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let os = os_release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            cpu_model,
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            memory_gib: memory_kib / (1024.0 * 1024.0),
            os,
            kernel,
        }
    }
}
