//! One keep-alive HTTP/1.1 connection per worker.
//!
//! hyper's connection-level API rather than a pooled client: each worker owns
//! exactly one socket, so "concurrency 64" means 64 connections each with at
//! most one request in flight, and no pool bookkeeping runs on the hot path.
//! A server that closes the connection (moto's may, between requests) is
//! reconnected transparently; the reconnect is counted and its time is part
//! of the request that needed it, as it would be for a real client.

use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Connection {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    /// How many times the server closed the connection and we opened a new one.
    pub reconnects: u64,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Connection> {
        Ok(Connection {
            addr,
            sender: connect(addr).await?,
            reconnects: 0,
        })
    }

    /// Sends `request`, reconnecting once if the server had closed the connection.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<Response<Incoming>> {
        if self.sender.ready().await.is_err() {
            self.reconnect().await?;
        }
        match self.sender.try_send_request(request).await {
            Ok(response) => Ok(response),
            Err(mut error) => match error.take_message() {
                // Not written to the socket: the connection was closed under us.
                Some(request) => {
                    self.reconnect().await?;
                    Ok(self.sender.send_request(request).await?)
                }
                None => Err(error.into_error().into()),
            },
        }
    }

    /// Sends `request` and returns the status and whole body (setup calls).
    pub async fn call(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let response = self.send(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    async fn reconnect(&mut self) -> anyhow::Result<()> {
        self.sender = connect(self.addr).await?;
        self.reconnects += 1;
        Ok(())
    }
}

/// Reads a response body into `buffer` (cleared first), frame by frame.
/// The load loop passes the same buffer every time, so after the first few
/// requests this allocates nothing.
pub async fn read_body_into(mut body: Incoming, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    buffer.clear();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            buffer.extend_from_slice(&data);
        }
    }
    Ok(())
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    // Requests are small and latency is measured: don't let Nagle hold them.
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the server closes; the next send sees it and reconnects.
        let _ = connection.await;
    });
    Ok(sender)
}
