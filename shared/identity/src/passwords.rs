//! Password hashing with Argon2id, off the async runtime: on a small pool of dedicated
//! threads (cores − 1, at least one) running at the lowest CPU priority, so a burst of logins
//! queues behind itself instead of slowing every other request of the process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, oneshot};

use atelier_platform::AppError;

/// OWASP's floor for Argon2id: 19 MiB of memory, 2 iterations.
pub const FLOOR_MEMORY_KIB: u32 = 19 * 1024;
/// OWASP's floor for Argon2id iterations.
pub const FLOOR_ITERATIONS: u32 = 2;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashCost {
    /// The seed's parameters: 64 MiB, 3 iterations.
    fn default() -> Self {
        HashCost { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 }
    }
}

impl HashCost {
    /// The weakest cost allowed; tests use it to stay quick.
    pub const FLOOR: HashCost =
        HashCost { memory_kib: FLOOR_MEMORY_KIB, iterations: FLOOR_ITERATIONS, parallelism: 1 };
}

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    // A hash of nothing, verified when an email is unknown so a login takes as long either way.
    decoy: Arc<OnceCell<String>>,
    verifications: Arc<AtomicU64>,
    pool: Arc<HashPool>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads that run hashing jobs. They end when the pool is dropped.
struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl HashPool {
    fn start(threads: usize) -> HashPool {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
                // Lowest priority (nice 19): anything else on the machine goes first.
                if let Err(e) =
                    thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
                {
                    tracing::debug!(error = ?e, "could not lower the hashing thread's priority");
                }
                loop {
                    let job = match receiver.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a hashing thread");
            }
        }
        HashPool { jobs: Mutex::new(sender) }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(work());
        });
        self.jobs
            .lock()
            .map_err(|_| AppError::Internal("hashing pool poisoned".into()))?
            .send(job)
            .map_err(|_| AppError::Internal("hashing pool stopped".into()))?;
        answer.await.map_err(|_| AppError::Internal("hashing job lost".into()))
    }
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `cost`, refused below OWASP's floor.
    pub fn new(cost: HashCost) -> Result<PasswordHasher, String> {
        if cost.memory_kib < FLOOR_MEMORY_KIB || cost.iterations < FLOOR_ITERATIONS {
            return Err(format!(
                "Argon2 cost {}KiB/{} iterations is below the floor of {FLOOR_MEMORY_KIB}KiB/{FLOOR_ITERATIONS}",
                cost.memory_kib, cost.iterations
            ));
        }
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| e.to_string())?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Ok(PasswordHasher {
            params,
            decoy: Arc::new(OnceCell::new()),
            verifications: Arc::new(AtomicU64::new(0)),
            pool: Arc::new(HashPool::start(cores.saturating_sub(1).max(1))),
        })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes a password (PHC string with a random salt).
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let argon2 = self.argon2();
        self.pool
            .run(move || argon2.hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(|e| AppError::failed("hashing a password", e))
    }

    /// Whether `password` matches `hash`. The hash's own parameters are used.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, AppError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let argon2 = self.argon2();
        self.pool
            .run(move || {
                let parsed = PasswordHash::new(&hash)
                    .map_err(|e| AppError::failed("reading a stored password hash", e))?;
                Ok(argon2.verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?
    }

    /// Verifications run so far (decoys included): lets tests check that a login does the same
    /// work whether or not the email exists.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Spends the time of a verification without a user to verify against.
    pub async fn verify_decoy(&self, password: String) -> Result<(), AppError> {
        let decoy =
            self.decoy.get_or_try_init(|| self.hash("decoy password, never valid".into())).await?.clone();
        self.verify(password, decoy).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_weak_costs_are_refused() {
        assert!(PasswordHasher::new(HashCost { memory_kib: 8 * 1024, ..HashCost::FLOOR }).is_err());
        assert!(PasswordHasher::new(HashCost { iterations: 1, ..HashCost::FLOOR }).is_err());
        let hasher = PasswordHasher::new(HashCost::FLOOR).expect("floor is allowed");
        let hash = hasher.hash("correct horse battery".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery".into(), hash.clone()).await.expect("verify"));
        assert!(!hasher.verify("wrong horse battery".into(), hash).await.expect("verify"));
        hasher.verify_decoy("anything".into()).await.expect("decoy");
    }
}
