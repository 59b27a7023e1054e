//! For `src/bin/throughput.rs`: a write endpoint that does no work: it answers every request with 204
//! and only counts the lines it received. Run in its own process (the
//! throughput binary re-executed with `--serve-sink`), so its CPU is not
//! the client's; writing to it measures how fast a client can go when the
//! server is not the limit.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The sink process, killed on drop.
pub struct Sink {
    child: Child,
    pub addr: SocketAddr,
}

impl Sink {
    /// The sink's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `current_exe --serve-sink` and reads the port it listens on.
    pub fn start() -> Sink {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .arg("--serve-sink")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the sink");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("sink stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sink port");
        let port: u16 = line.trim().parse().expect("sink printed its port");
        Sink {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Lines received since the last call.
    pub fn take_lines(&self) -> u64 {
        let mut s = TcpStream::connect(self.addr).expect("connect to the sink");
        s.write_all(b"GET /count HTTP/1.1\r\nhost: sink\r\nconnection: close\r\n\r\n")
            .expect("ask the sink");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("sink answer");
        answer
            .rsplit("\r\n\r\n")
            .next()
            .and_then(|n| n.trim().parse().ok())
            .expect("sink count")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sink's main: prints its port, then serves until killed.
pub fn serve() -> ! {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the sink");
    let port = listener.local_addr().expect("sink addr").port();
    println!("{port}");
    let _ = io::stdout().flush();
    let lines = Arc::new(AtomicU64::new(0));
    for stream in listener.incoming().flatten() {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            let _ = connection(stream, &lines);
        });
    }
    std::process::exit(0)
}

fn connection(stream: TcpStream, lines: &AtomicU64) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::with_capacity(256 * 1024, stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let request = String::from_utf8_lossy(&line).into_owned();
        let mut length = 0u64;
        let mut chunked = false;
        let mut expect_continue = false;
        loop {
            line.clear();
            input.read_until(b'\n', &mut line)?;
            let header = String::from_utf8_lossy(&line).to_ascii_lowercase();
            let header = header.trim();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if header.starts_with("transfer-encoding:") && header.contains("chunked") {
                chunked = true;
            } else if header.starts_with("expect:") && header.contains("100-continue") {
                expect_continue = true;
            }
        }
        // As every HTTP/1.1 server does: a client asking waits for this
        // before it sends the body.
        if expect_continue {
            out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            out.flush()?;
        }
        let mut received = 0u64;
        let mut last = b'\n';
        if chunked {
            loop {
                line.clear();
                input.read_until(b'\n', &mut line)?;
                let size = String::from_utf8_lossy(&line);
                let size = size.trim().split(';').next().unwrap_or("");
                let size = u64::from_str_radix(size, 16).unwrap_or(0);
                if size == 0 {
                    // Trailers, then the empty line.
                    loop {
                        line.clear();
                        input.read_until(b'\n', &mut line)?;
                        if line == b"\r\n" || line.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                received += count_lines(&mut input, size, &mut last)?;
                line.clear();
                input.read_until(b'\n', &mut line)?;
            }
        } else {
            received = count_lines(&mut input, length, &mut last)?;
        }
        // A body's last line need not end in a newline.
        if last != b'\n' {
            received += 1;
        }
        if request.starts_with("GET /count") {
            let n = lines.swap(0, Ordering::SeqCst).to_string();
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{n}",
                n.len()
            )?;
            // The asker reads to the end.
            return Ok(());
        } else {
            lines.fetch_add(received, Ordering::SeqCst);
            out.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")?;
        }
    }
}

/// Reads `n` bytes and counts the newlines in them; `last` becomes the last
/// byte read.
fn count_lines(input: &mut BufReader<TcpStream>, mut n: u64, last: &mut u8) -> io::Result<u64> {
    let mut lines = 0u64;
    while n > 0 {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let take = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        let chunk = &buf[..take];
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        if let Some(&b) = chunk.last() {
            *last = b;
        }
        input.consume(take);
        n -= take as u64;
    }
    Ok(lines)
}
