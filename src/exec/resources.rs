//! The resources actions declare (`cpus`, `memory`, `gpus`) and the pool they are granted from.

use crate::graph::Resources;

/// What this build may use at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// CPU slots: `-j N` (default: the number of cores). A step declaring `cpus=2` takes two.
    pub cpus: u32,
    /// Bytes; `None` for no limit.
    pub memory: Option<u64>,
    /// Device indices for `CUDA_VISIBLE_DEVICES`.
    pub gpus: Vec<String>,
}

/// What one running action holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    pub cpus: u32,
    pub memory: u64,
    /// Devices of this machine; none for an action that runs elsewhere.
    pub gpus: Vec<String>,
    /// The pool it came from: 0 for this machine, else the executor's place in the graph.
    pub lane: usize,
}

#[derive(Debug)]
pub struct Pool {
    capacity: Capacity,
    free_cpus: u32,
    free_memory: Option<u64>,
    free_gpus: Vec<String>,
    /// Each action takes one slot and nothing else: the pool of a cluster's executor, whose
    /// own scheduler grants CPUs, memory and GPUs on machines this one does not see.
    slots_only: bool,
}

impl Pool {
    pub fn new(capacity: Capacity) -> Pool {
        Pool {
            free_cpus: capacity.cpus,
            free_memory: capacity.memory,
            free_gpus: capacity.gpus.clone(),
            capacity,
            slots_only: false,
        }
    }

    /// A pool of `slots` actions in flight at once, whatever each declares.
    pub fn slots(slots: u32) -> Pool {
        let mut pool = Pool::new(Capacity {
            cpus: slots.max(1),
            memory: None,
            gpus: Vec::new(),
        });
        pool.slots_only = true;
        pool
    }

    /// Why the action can never run here, if so: it wants more GPUs than exist. A step that
    /// asks for more CPUs or memory than the machine has is instead run alone, as make and
    /// ninja would, rather than refused.
    pub fn impossible(&self, wanted: &Resources) -> Option<String> {
        if self.slots_only {
            return None;
        }
        let have = self.capacity.gpus.len() as u32;
        (wanted.gpus > have).then(|| {
            format!(
                "needs {} GPU{} but {have} {} available (see `--gpus`)",
                wanted.gpus,
                if wanted.gpus == 1 { "" } else { "s" },
                if have == 1 { "is" } else { "are" }
            )
        })
    }

    /// Whether a CPU slot is free: every action takes one at least.
    pub fn has_free_cpu(&self) -> bool {
        self.free_cpus > 0
    }

    /// Takes what the action needs, clamped to the capacity, if it is free now.
    pub fn acquire(&mut self, wanted: &Resources) -> Option<Grant> {
        if self.slots_only {
            if self.free_cpus == 0 {
                return None;
            }
            self.free_cpus -= 1;
            return Some(Grant {
                cpus: 1,
                ..Grant::default()
            });
        }
        let cpus = wanted.cpus.clamp(1, self.capacity.cpus.max(1));
        let memory = match (wanted.memory, self.capacity.memory) {
            (Some(wanted), Some(capacity)) => wanted.min(capacity),
            _ => 0,
        };
        if cpus > self.free_cpus || wanted.gpus as usize > self.free_gpus.len() {
            return None;
        }
        if let Some(free) = self.free_memory
            && memory > free
        {
            return None;
        }
        self.free_cpus -= cpus;
        if let Some(free) = &mut self.free_memory {
            *free -= memory;
        }
        let gpus = self.free_gpus.drain(..wanted.gpus as usize).collect();
        Some(Grant {
            cpus,
            memory,
            gpus,
            lane: 0,
        })
    }

    pub fn release(&mut self, grant: Grant) {
        self.free_cpus += grant.cpus;
        if let Some(free) = &mut self.free_memory {
            *free += grant.memory;
        }
        self.free_gpus.extend(grant.gpus);
        self.free_gpus.sort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(cpus: u32, memory: Option<u64>, gpus: u32) -> Resources {
        Resources { cpus, memory, gpus }
    }

    #[test]
    fn grants_until_full_and_back() {
        let mut pool = Pool::new(Capacity {
            cpus: 4,
            memory: Some(8),
            gpus: vec!["0".into(), "1".into()],
        });
        let a = pool.acquire(&wants(2, Some(4), 1)).unwrap();
        assert_eq!(a.gpus, ["0"]);
        let b = pool.acquire(&wants(2, Some(4), 1)).unwrap();
        assert_eq!(b.gpus, ["1"]);
        assert!(pool.acquire(&wants(1, None, 0)).is_none(), "no cpus left");
        pool.release(a);
        assert!(
            pool.acquire(&wants(1, Some(5), 0)).is_none(),
            "not enough memory"
        );
        assert!(pool.acquire(&wants(1, Some(4), 1)).is_some());
    }

    #[test]
    fn oversized_steps_run_alone() {
        let mut pool = Pool::new(Capacity {
            cpus: 2,
            memory: Some(1 << 30),
            gpus: vec![],
        });
        let big = pool.acquire(&wants(64, Some(1 << 40), 0)).unwrap();
        assert_eq!(big.cpus, 2);
        assert!(pool.acquire(&wants(1, None, 0)).is_none());
        pool.release(big);
        assert!(pool.acquire(&wants(1, None, 0)).is_some());
    }

    #[test]
    fn missing_gpus_are_impossible() {
        let pool = Pool::new(Capacity {
            cpus: 2,
            memory: None,
            gpus: vec![],
        });
        let why = pool.impossible(&wants(1, None, 1)).unwrap();
        assert!(why.contains("needs 1 GPU but 0 are available"), "{why}");
        assert!(pool.impossible(&wants(1, None, 0)).is_none());
    }
}
