//! What this machine offers a build: its cores, its memory and its GPUs, probed once per build
//! so that the scheduler's [`Capacity`] is the machine's unless the caller narrows it.

use super::resources::Capacity;

/// The cores the process may use: the default for `-j`, and the threads that compute keys.
pub fn cores() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Physical memory, from /proc/meminfo; `None` (no limit) where that is not available.
pub fn total_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// GPU device indices as a list such as `0,1` names them; empty entries are left out.
pub fn gpu_list(given: &str) -> Vec<String> {
    given
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(String::from)
        .collect()
}

/// One GPU index per `GPU …` line of `nvidia-smi -L`; none without the tool or when it fails.
pub fn detected_gpus() -> Vec<String> {
    let Ok(output) = std::process::Command::new("nvidia-smi").arg("-L").output() else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    let listed = String::from_utf8_lossy(&output.stdout);
    (0..listed
        .lines()
        .filter(|line| line.starts_with("GPU "))
        .count())
        .map(|index| index.to_string())
        .collect()
}

/// The capacity of a build with `cpus` slots: the machine's memory, and `gpus` when given,
/// else the GPUs the machine has. Those are looked for only when `needs_gpus` (some action
/// asks for one): running `nvidia-smi` costs a process start, from 4 ms to a tenth of a
/// second on a busy machine, which a build of CPU steps should not pay.
pub fn probe(cpus: u32, gpus: Option<&[String]>, needs_gpus: bool) -> Capacity {
    let gpus = match gpus {
        Some(given) => given.to_vec(),
        None if needs_gpus => detected_gpus(),
        None => Vec::new(),
    };
    Capacity {
        cpus,
        memory: total_memory(),
        gpus,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpu_list_drops_blanks_and_spaces() {
        assert_eq!(gpu_list(" 0, ,1,"), ["0", "1"]);
        assert!(gpu_list("").is_empty());
    }
}
