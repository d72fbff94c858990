//! A fake member for tests: it answers the client's authentication with an answer
//! captured from a real 5.7.0 member (see tests/codec.rs), then hands every other
//! request to a handler that answers it, stays silent, or closes the connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hazelcast_client::codec::frame::{decode_frame, decode_frames, flags, Frame};
use hazelcast_client::codec::{ClientMessage, MessageAssembler};
use hazelcast_client::protocol::client::AUTHENTICATION;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const AUTH_RESP: &str = "4400000000c0010100000100000000000000000000384714716593917c3854d025a627f281010f010000000646911cdba05280e29e155a6580d5830001000000ffffffff0600000000100a0000000000553d00000f00000000003132372e302e302e310600000000080b0000000000352e372e3006000000000006000000000406000000001006000000001018000000000000384714716593917c3854d025a627f281000600000000100a0000000000553d00000f00000000003132372e302e302e310600000000080600000000100600000000080600000000100900000000000507000600000000080600000000100600000000100a0000000000000000000600000000040600000000080600000000100a0000000000553d00000f00000000003132372e302e302e31060000000008060000000008060000000008060000000008060000000010060000000008060000000000060000000010140000000000636c757374657256657273696f6e090000000000352e37060000000028";

/// What the fake member does with a request.
pub enum Reply {
    Answer(ClientMessage),
    Silent,
    Close,
    /// Writes these bytes as they are (garbage, a header without its frame...), then goes on
    /// serving.
    Raw(Vec<u8>),
    /// Writes each piece in turn until there is none left or the client closes, then closes:
    /// frames that never end a message, for one.
    Stream(Box<dyn Iterator<Item = Arc<Vec<u8>>> + Send>),
}

/// Which connection (0 for the first one accepted) a request came on.
pub type Handler = Arc<dyn Fn(usize, &ClientMessage) -> Reply + Send + Sync>;

/// Starts a fake member on a free loopback port, serving connections until the test
/// ends; returns its address. It answers authentication as a 5.7.0 member does.
pub async fn serve(handler: Handler) -> String {
    serve_with(Arc::new(|_, msg| Reply::Answer(auth_answer(msg))), handler).await
}

/// Like [`serve`], with `auth` deciding what to do with authentication requests.
pub async fn serve_with(auth: Handler, handler: Handler) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(connection(s, n, auth.clone(), handler.clone()));
        }
    });
    address
}

/// The answer a 5.7.0 member gave to an authentication (captured), for `request`.
pub fn auth_answer(request: &ClientMessage) -> ClientMessage {
    let mut answer = ClientMessage::from_frames(decode_frames(&unhex(AUTH_RESP)).unwrap()).unwrap();
    answer.set_correlation_id(request.correlation_id());
    answer
}

async fn connection(mut s: TcpStream, n: usize, auth: Handler, handler: Handler) {
    let mut preamble = [0u8; 3];
    if s.read_exact(&mut preamble).await.is_err() {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut asm = MessageAssembler::new();
    loop {
        let got = match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(got) => got,
        };
        buf.extend_from_slice(&chunk[..got]);
        while let Ok(Some((frame, used))) = decode_frame(&buf) {
            buf.drain(..used);
            let Ok(Some(msg)) = asm.push(frame) else {
                continue;
            };
            let reply = if msg.message_type() == AUTHENTICATION {
                auth(n, &msg)
            } else {
                handler(n, &msg)
            };
            match reply {
                Reply::Answer(answer) => {
                    if s.write_all(&answer.to_bytes()).await.is_err() {
                        return;
                    }
                }
                Reply::Raw(bytes) => {
                    if s.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Reply::Stream(pieces) => {
                    for piece in pieces {
                        if s.write_all(&piece).await.is_err() {
                            return;
                        }
                    }
                    return;
                }
                Reply::Silent => {}
                Reply::Close => return,
            }
        }
    }
}

/// An empty answer to `request` (a void response, no backups to wait for).
pub fn empty_answer(request: &ClientMessage) -> ClientMessage {
    answer(request, request.message_type() + 1, Vec::new())
}

/// An error answer to `request`, as a member sends for a Java exception.
pub fn error_answer(
    request: &ClientMessage,
    code: i32,
    class: &str,
    message: &str,
) -> ClientMessage {
    let frames = vec![
        Frame::marker(flags::BEGIN_DATA_STRUCTURE), // the list of error holders
        Frame::marker(flags::BEGIN_DATA_STRUCTURE), // one holder
        Frame::new(0, code.to_le_bytes().to_vec()),
        Frame::new(0, class.as_bytes().to_vec()),
        Frame::new(0, message.as_bytes().to_vec()),
        Frame::marker(flags::BEGIN_DATA_STRUCTURE), // stack trace: empty
        Frame::marker(flags::END_DATA_STRUCTURE),
        Frame::marker(flags::END_DATA_STRUCTURE),
        Frame::marker(flags::END_DATA_STRUCTURE),
    ];
    answer(request, 0, frames)
}

fn answer(request: &ClientMessage, message_type: i32, rest: Vec<Frame>) -> ClientMessage {
    let mut initial = Vec::new();
    initial.extend_from_slice(&message_type.to_le_bytes());
    initial.extend_from_slice(&request.correlation_id().to_le_bytes());
    initial.push(0); // backup acks
    let mut frames = vec![Frame::new(flags::UNFRAGMENTED, initial)];
    frames.extend(rest);
    if let Some(last) = frames.last_mut() {
        last.flags |= flags::IS_FINAL;
    }
    ClientMessage::from_frames(frames).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
