//! The `cafe` binary: parse the command line, start logging, run a subcommand.

use clap::Parser;

/// mimalloc instead of glibc's malloc: a page answer allocates a few
/// buffers per request on whichever worker thread serves it, and glibc's
/// per-thread arenas spent about a sixth of the server's time there
/// (`perf` over `bench/run.sh`'s page views); mimalloc's thread-local free
/// lists make that a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    return_freed_memory_to_the_system();
    let cli = cafe::config::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "cafe=info,tower_http=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("cafe: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cafe::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cafe: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// For what is still allocated with glibc's malloc: SQLite's own memory
/// (its page caches and statements); Rust's allocations go to mimalloc,
/// which hands huge blocks (argon2's) back to the system itself.
/// The reasons, from when everything went through glibc: argon2 hashes in
/// 19 MiB blocks. glibc serves a large block with mmap, but each free of one raises its mmap threshold, so later blocks come from the
/// heap of whichever blocking thread hashed and stay there: peak memory grew
/// by hundreds of MiB under sign-in load (benchmark: 514-627 MiB). A fixed
/// 1 MiB threshold keeps large blocks in mmap, returned when freed.
/// Two arenas instead of one per thread (up to 8 per core): the ten-odd
/// threads (tokio workers, one per SQLite connection) each kept their own
/// freed memory (peak RSS at 1,000 pages under load: 61 MiB with
/// per-thread arenas).
fn return_freed_memory_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; it is called once,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
