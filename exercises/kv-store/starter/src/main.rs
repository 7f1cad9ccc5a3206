//! kv-store starter: a tokio server that reads RESP multibulk requests and answers `PING`.
//!
//! It is a place to start, not a design to keep: every other command gets Redis's
//! "unknown command" error, there is no storage, no inline requests, no limits and no
//! persistence. `harness check . -e <kit>` shows what is missing, one failure at a time.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "6379".into());
    let listener = TcpListener::bind(format!("0.0.0.0:{port}")).await?;
    eprintln!("listening on 0.0.0.0:{port}");
    loop {
        let (socket, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(error) = serve(socket).await {
                eprintln!("{peer}: {error}");
            }
        });
    }
}

/// Answers requests on one connection until the client hangs up.
async fn serve(socket: TcpStream) -> io::Result<()> {
    let (reader, mut writer) = socket.into_split();
    let mut reader = BufReader::new(reader);
    while let Some(request) = read_request(&mut reader).await? {
        writer.write_all(&reply(&request)).await?;
    }
    Ok(())
}

/// Reads one `*<n>\r\n` + n × `$<len>\r\n<bytes>\r\n` request; `None` at end of stream.
async fn read_request<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> io::Result<Option<Vec<Vec<u8>>>> {
    let Some(header) = read_line(reader).await? else {
        return Ok(None);
    };
    let count = number_after(b'*', &header)?;
    let mut arguments = Vec::new();
    for _ in 0..count {
        let line = read_line(reader).await?.ok_or_else(|| invalid("connection closed mid-request"))?;
        let length = number_after(b'$', &line)?;
        let mut argument = vec![0; length + 2];
        reader.read_exact(&mut argument).await?;
        argument.truncate(length);
        arguments.push(argument);
    }
    Ok(Some(arguments))
}

async fn read_line<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line).await? == 0 {
        return Ok(None);
    }
    while matches!(line.last(), Some(b'\r' | b'\n')) {
        line.pop();
    }
    Ok(Some(line))
}

fn number_after(prefix: u8, line: &[u8]) -> io::Result<usize> {
    match line.split_first() {
        Some((first, digits)) if *first == prefix => std::str::from_utf8(digits)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| invalid("bad length")),
        _ => Err(invalid("expected a multibulk request")),
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

fn reply(request: &[Vec<u8>]) -> Vec<u8> {
    let Some((name, arguments)) = request.split_first() else {
        return Vec::new();
    };
    match (name.to_ascii_uppercase().as_slice(), arguments) {
        (b"PING", []) => b"+PONG\r\n".to_vec(),
        (b"PING", [message]) => bulk(message),
        _ => {
            let mut error = format!("-ERR unknown command '{}', with args beginning with: ", String::from_utf8_lossy(name));
            for argument in arguments {
                error.push_str(&format!("'{}' ", String::from_utf8_lossy(argument)));
            }
            error.push_str("\r\n");
            error.into_bytes()
        }
    }
}

fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}
