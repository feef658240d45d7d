//! Starting the plugin: handshake, listener (TCP_NODELAY, optional mTLS),
//! the go-plugin side services and the Provider service.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::handshake;
use super::log;
use super::proto::{health, plugin, tfplugin6};
use super::resource::Provider;
use super::server::ProviderService;
use super::tls;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("not started by Terraform")]
    NotPlugin,
    #[error(
        "Terraform asked for plugin protocol versions {0:?}; this provider speaks only version 6"
    )]
    Protocol(String),
    #[error("listening on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    #[error("setting up TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("serving gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("writing the handshake: {0}")]
    Handshake(#[source] std::io::Error),
}

/// One accepted connection, plain or TLS. Counted while open: once Terraform
/// has called Shutdown, the process exits as its last connection closes.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// Connections open now.
static OPEN_CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
/// Whether Terraform has said it is done with this process (Shutdown).
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

impl Conn {
    fn counted(self) -> Self {
        OPEN_CONNECTIONS.fetch_add(1, Ordering::SeqCst);
        self
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if OPEN_CONNECTIONS.fetch_sub(1, Ordering::SeqCst) == 1
            && SHUTTING_DOWN.load(Ordering::SeqCst)
        {
            exit_now();
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections: TCP_NODELAY on each (without it every small
/// request/response waits for delayed ACKs), then the TLS handshake in its
/// own task so one slow or refused peer never blocks the others, within
/// `handshake_timeout` so a silent peer is dropped.
fn incoming(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handshake_timeout: Duration,
) -> ReceiverStream<Result<Conn, std::io::Error>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    log::warn("accept failed", &[("error", &e.to_string())]);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let tx = tx.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let conn = match tls {
                    None => Conn::Plain(stream),
                    Some(acceptor) => {
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                        {
                            Ok(Ok(s)) => Conn::Tls(Box::new(s)),
                            Ok(Err(e)) => {
                                log::warn(
                                    "refused a connection: TLS handshake failed",
                                    &[("peer", &peer.to_string()), ("error", &e.to_string())],
                                );
                                return;
                            }
                            Err(_) => {
                                log::warn(
                                    "dropped a connection: no TLS handshake in time",
                                    &[
                                        ("peer", &peer.to_string()),
                                        ("timeout", &format!("{handshake_timeout:?}")),
                                    ],
                                );
                                return;
                            }
                        }
                    }
                };
                let _ = tx.send(Ok(conn.counted())).await;
            });
        }
    });
    ReceiverStream::new(rx)
}

async fn bind(range: Option<(u16, u16)>) -> Result<TcpListener, ServeError> {
    if let Some((min, max)) = range {
        for port in min..=max {
            if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
                return Ok(l);
            }
        }
    }
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(ServeError::Listen)
}

/// After Shutdown: exit as soon as Terraform has the answer. go-plugin sends
/// Shutdown, closes its connection and then waits for the process to end, so
/// the last connection closing is the signal (see `Conn`'s Drop); a client
/// that keeps its connection open gets the answer and an exit shortly after.
fn exit_after_answer() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    tokio::spawn(async {
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        exit_now();
    });
}

/// How long a client that keeps its connection open after Shutdown has to read the answer.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(50);

fn exit_now() -> ! {
    let _ = std::io::stderr().flush();
    std::process::exit(0)
}

struct Controller;

#[tonic::async_trait]
impl plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(
        &self,
        _req: Request<plugin::Empty>,
    ) -> Result<Response<plugin::Empty>, Status> {
        log::debug("Terraform is done with this provider: exiting", &[]);
        exit_after_answer();
        Ok(Response::new(plugin::Empty {}))
    }
}

type BoxStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

struct Stdio;

#[tonic::async_trait]
impl plugin::grpc_stdio_server::GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _req: Request<plugin::Empty>,
    ) -> Result<Response<BoxStream<plugin::StdioData>>, Status> {
        // Logs go to stderr directly; keep the stream open and silent.
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            tx.closed().await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

struct Broker;

#[tonic::async_trait]
impl plugin::grpc_broker_server::GrpcBroker for Broker {
    async fn start_stream(
        &self,
        req: Request<tonic::Streaming<plugin::ConnInfo>>,
    ) -> Result<Response<BoxStream<plugin::ConnInfo>>, Status> {
        // Providers open no extra connections: drain the client's side and keep ours open.
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            while let Ok(Some(_)) = inbound.message().await {}
            drop(tx);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

struct Health;

#[tonic::async_trait]
impl health::health_server::Health for Health {
    async fn check(
        &self,
        _req: Request<health::HealthCheckRequest>,
    ) -> Result<Response<health::HealthCheckResponse>, Status> {
        Ok(Response::new(health::HealthCheckResponse {
            status: health::health_check_response::ServingStatus::Serving as i32,
        }))
    }
}

async fn run<P: Provider>(
    provider: P,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(), ServeError> {
    let svc = tfplugin6::provider_server::ProviderServer::new(ProviderService::new(provider))
        .max_decoding_message_size(handshake::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(handshake::MAX_MESSAGE_BYTES);
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(svc)
        .add_service(plugin::grpc_controller_server::GrpcControllerServer::new(
            Controller,
        ))
        .add_service(plugin::grpc_stdio_server::GrpcStdioServer::new(Stdio))
        .add_service(plugin::grpc_broker_server::GrpcBrokerServer::new(Broker))
        .add_service(health::health_server::HealthServer::new(Health))
        .serve_with_incoming(incoming(listener, tls, handshake::TLS_HANDSHAKE_TIMEOUT))
        .await?;
    Ok(())
}

/// Serves `provider` as Terraform expects: refuses to run by hand, prints the
/// handshake line, then serves until Terraform shuts it down.
pub async fn serve<P: Provider>(provider: P) -> Result<(), ServeError> {
    if std::env::var(handshake::MAGIC_COOKIE_KEY).ok().as_deref()
        != Some(handshake::MAGIC_COOKIE_VALUE)
    {
        return Err(ServeError::NotPlugin);
    }
    let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok();
    if !handshake::accepts_protocol(versions.as_deref()) {
        return Err(ServeError::Protocol(versions.unwrap_or_default()));
    }
    let range = handshake::port_range(
        std::env::var("PLUGIN_MIN_PORT").ok().as_deref(),
        std::env::var("PLUGIN_MAX_PORT").ok().as_deref(),
    );
    let listener = bind(range).await?;
    let addr = listener.local_addr().map_err(ServeError::Listen)?;
    let (acceptor, cert) = match std::env::var("PLUGIN_CLIENT_CERT") {
        Ok(pem) if !pem.trim().is_empty() => {
            let (config, der) = tls::server_config(&pem)?;
            (Some(tokio_rustls::TlsAcceptor::from(config)), Some(der))
        }
        _ => (None, None),
    };
    ignore_interrupts();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handshake::line(&addr, cert.as_deref()))
            .map_err(ServeError::Handshake)?;
        out.flush().map_err(ServeError::Handshake)?;
    }
    log::debug("plugin started", &[("address", &addr.to_string())]);
    run(provider, listener, acceptor).await
}

/// A terminal's Ctrl-C reaches Terraform and its plugins alike. As go-plugin
/// servers do, the provider ignores it: Terraform stops work in progress
/// with StopProvider and ends the process with GRPCController.Shutdown.
fn ignore_interrupts() {
    // The handler is registered now, before the handshake line goes out, so
    // that no interrupt can arrive in between and kill the process.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::interrupt()) {
            Ok(mut interrupts) => {
                tokio::spawn(async move {
                    while interrupts.recv().await.is_some() {
                        log::debug(
                            "interrupt received: waiting for Terraform to stop this provider",
                            &[],
                        );
                    }
                });
            }
            Err(e) => log::warn("cannot ignore interrupts", &[("error", &e.to_string())]),
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async {
        while tokio::signal::ctrl_c().await.is_ok() {
            log::debug(
                "interrupt received: waiting for Terraform to stop this provider",
                &[],
            );
        }
    });
}

/// `--debug`: serve without Terraform starting us, printing the reattach
/// configuration; stops on Ctrl-C.
pub async fn serve_debug<P: Provider>(
    provider: P,
    provider_address: &str,
) -> Result<(), ServeError> {
    let listener = bind(None).await?;
    let addr: SocketAddr = listener.local_addr().map_err(ServeError::Listen)?;
    println!("Provider started. To attach Terraform, set this in your shell:\n");
    println!(
        "\tTF_REATTACH_PROVIDERS='{}'\n",
        handshake::reattach_json(provider_address, &addr)
    );
    tokio::select! {
        r = run(provider, listener, None) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::io::AsyncReadExt;

    fn acceptor() -> tokio_rustls::TlsAcceptor {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        let pem = params.self_signed(&key).expect("cert").pem();
        let (config, _) = tls::server_config(&pem).expect("config");
        tokio_rustls::TlsAcceptor::from(config)
    }

    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut conns = incoming(listener, Some(acceptor()), Duration::from_millis(200));
        // Connects and sends nothing: the server must hang up on it.
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => {}
            Ok(Ok(n)) => panic!("the server sent {n} byte(s) to a silent client"),
            Err(_) => panic!("a silent client still holds its connection after 5 s"),
        }
        // Nothing was handed to the gRPC server.
        let next = tokio::time::timeout(Duration::from_millis(100), conns.next()).await;
        assert!(
            next.is_err(),
            "a connection without a handshake was accepted"
        );
    }
}
