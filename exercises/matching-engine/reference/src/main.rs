//! matching-engine: a durable matching engine for one spot instrument
//! (BTC/USD), with newline-delimited JSON order entry and a market-data feed.
//!
//! Configuration comes from the environment:
//! * `PORT` — order entry, on all interfaces (default 7400);
//! * `MD_PORT` — market data, on all interfaces (default 7401);
//! * `DATA_DIR` — directory of the command log (default `/data`).
//!
//! The log is replayed before either port opens. SIGTERM or SIGINT shut the
//! server down: stop accepting, stop reading requests, make the last batch
//! durable, deliver what it owes, close, exit 0 — well within 5 seconds.

mod checksum;
mod engine;
mod exchange;
mod instrument;
mod journal;
mod outbox;
mod reason;
mod request;
mod server;
mod wire;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

use crate::engine::Engine;
use crate::exchange::Exchange;
use crate::journal::Journal;

/// Requests waiting for the matching task; a full queue pushes back on the
/// connections' reads (and so on TCP), never on the matching task.
const REQUEST_QUEUE: usize = 4096;
/// SO_SNDBUF of every connection (Linux reports, and uses, twice this).
const KERNEL_SEND_BUFFER: u32 = 128 * 1024;
/// How long connections get to finish after SIGTERM before they are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

struct Config {
    port: u16,
    md_port: u16,
    data_dir: PathBuf,
}

fn port_from_env(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name) {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("{name} must be a port number, got {p:?}")),
        Err(_) => Ok(default),
    }
}

impl Config {
    fn from_env() -> Result<Self, String> {
        Ok(Self {
            port: port_from_env("PORT", 7400)?,
            md_port: port_from_env("MD_PORT", 7401)?,
            data_dir: std::env::var_os("DATA_DIR").map_or_else(|| "/data".into(), PathBuf::from),
        })
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

    let started = Instant::now();
    let (engine, file, stats) = match journal::open(&config.data_dir) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("cannot recover from {}: {e}", config.data_dir.display());
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
        "replayed {} log records ({} orders, seq {}) in {:?}",
        stats.records,
        engine.orders_accepted(),
        engine.seq(),
        started.elapsed()
    );
    let (journal, durable, writer) = match Journal::start(file) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("cannot start the log writer: {e}");
            return ExitCode::FAILURE;
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("build tokio runtime");
    let served = runtime.block_on(run(&config, engine, journal.clone(), durable));
    runtime.shutdown_timeout(Duration::from_millis(500));

    // Everything acknowledged is durable already; this syncs the rest.
    journal.close();
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

/// A listener on all interfaces. Accepted sockets inherit its send buffer
/// size: a fixed, modest kernel buffer keeps what a client that does not read
/// can pin close to the outbox's 1 MiB, instead of the several MiB that
/// autotuning allows.
fn listen(port: u16) -> Result<TcpListener, String> {
    let listen = || -> std::io::Result<TcpListener> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.set_send_buffer_size(KERNEL_SEND_BUFFER)?;
        socket.bind((Ipv4Addr::UNSPECIFIED, port).into())?;
        socket.listen(1024)
    };
    listen().map_err(|e| format!("cannot listen on port {port}: {e}"))
}

async fn run(
    config: &Config,
    engine: Engine,
    journal: Journal,
    durable: watch::Receiver<u64>,
) -> Result<(), String> {
    let order_entry = listen(config.port)?;
    let market_data = listen(config.md_port)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;

    let (requests, inbox) = mpsc::channel(REQUEST_QUEUE);
    let exchange = tokio::spawn(Exchange::new(engine, journal).run(inbox, durable));
    let (stop_tx, stop) = watch::channel(false);
    let order_entry = tokio::spawn(server::accept_loop(
        order_entry,
        requests.clone(),
        stop.clone(),
        SHUTDOWN_GRACE,
        server::order_entry,
    ));
    let market_data = tokio::spawn(server::accept_loop(
        market_data,
        requests,
        stop,
        SHUTDOWN_GRACE,
        server::market_data,
    ));
    println!(
        "order entry on 0.0.0.0:{}, market data on 0.0.0.0:{}",
        config.port, config.md_port
    );

    tokio::select! {
        _ = sigterm.recv() => println!("SIGTERM received, shutting down"),
        _ = sigint.recv() => println!("SIGINT received, shutting down"),
    }
    let _ = stop_tx.send(true);
    // The matching task ends once every connection has stopped reading; it
    // then syncs the last batch and releases what it held.
    if tokio::time::timeout(SHUTDOWN_GRACE, exchange)
        .await
        .is_err()
    {
        eprintln!("the matching task did not finish in time");
    }
    let _ = tokio::join!(order_entry, market_data);
    Ok(())
}
