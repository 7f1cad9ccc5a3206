//! kv-store: a durable, Redis-compatible (RESP2) key-value server.
//!
//! Configuration comes from the environment:
//! * `PORT` — TCP port to listen on, on all interfaces (default 6379);
//! * `DATA_DIR` — directory for the append-only log (default `/data`).
//!
//! SIGTERM or SIGINT shut the server down gracefully: stop accepting,
//! let connections flush their (durable) replies, make the log durable,
//! exit 0 — all well within 5 seconds.

mod aof;
mod command;
mod db;
mod pubsub;
mod resp;
mod server;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::pubsub::Hub;
use crate::server::Shared;
use crate::store::Store;

/// How long connections get to flush after SIGTERM before they are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// Period of the active expiry sweep (Redis' default `hz 10`).
const EXPIRE_PERIOD: Duration = Duration::from_millis(100);

struct Config {
    port: u16,
    data_dir: PathBuf,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let port = match std::env::var("PORT") {
            Ok(p) => p
                .parse()
                .map_err(|_| format!("PORT must be a port number, got {p:?}"))?,
            Err(_) => 6379,
        };
        let data_dir = std::env::var_os("DATA_DIR").map_or_else(|| "/data".into(), PathBuf::from);
        Ok(Self { port, data_dir })
    }
}

fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };

    // Recovery happens before the port opens, so no client ever sees a
    // partially loaded keyspace.
    let started = Instant::now();
    let (keyspace, file, stats) = match aof::open(&config.data_dir, db::now_ms()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("cannot load the log in {}: {e}", config.data_dir.display());
            return ExitCode::FAILURE;
        }
    };
    if stats.torn_bytes > 0 {
        eprintln!(
            "ignored {} bytes of an incomplete final log record",
            stats.torn_bytes
        );
    }
    println!(
        "loaded {} keys from {} log records in {:?}",
        keyspace.len(),
        stats.records,
        started.elapsed()
    );

    let (log, writer) = aof::Appender::start(file);
    let shared = Arc::new(Shared {
        store: Store::new(keyspace, Arc::clone(&log)),
        hub: Hub::default(),
        max_bulk: resp::DEFAULT_MAX_BULK,
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build tokio runtime");
    let served = runtime.block_on(run(config.port, shared));
    // Stop the runtime before the log, so no connection can still append.
    runtime.shutdown_timeout(Duration::from_millis(500));

    log.close();
    if writer.join().is_err() {
        eprintln!("log writer panicked");
        return ExitCode::FAILURE;
    }
    match served {
        Ok(()) => {
            println!("shut down cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(port: u16, shared: Arc<Shared>) -> Result<(), String> {
    let listener = TcpListener::bind(("0.0.0.0", port))
        .await
        .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    println!("listening on 0.0.0.0:{port}");

    let expiry = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRE_PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                shared.store.expire_due();
            }
        })
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(server::serve(listener, shared, stop_rx, SHUTDOWN_GRACE));
    tokio::select! {
        _ = sigterm.recv() => println!("SIGTERM received, shutting down"),
        _ = sigint.recv() => println!("SIGINT received, shutting down"),
    }
    let _ = stop_tx.send(true);
    let _ = server.await;
    expiry.abort();
    Ok(())
}
