//! A static file server on loopback: a TUF mirror for `sigil trust update`
//! tests. It serves the files of one directory as they are at each request
//! (a test changes them between runs) and answers 404 for anything else.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// A running file server; dropping it stops it.
pub struct FileServer {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FileServer {
    /// Serves `root` on a free port of 127.0.0.1.
    pub fn start(root: &Path) -> FileServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("a bound socket has an address");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("file-server")
            .enable_all()
            .build()
            .expect("build the file server's runtime");
        let app = Router::new().fallback(serve).with_state(Arc::new(root.to_path_buf()));
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).expect("hand the listener to tokio")
        };
        runtime.spawn(async move {
            axum::serve(listener, app).await.expect("serve files");
        });
        FileServer {
            addr,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn serve(State(root): State<Arc<PathBuf>>, uri: Uri) -> Response {
    let relative = Path::new(uri.path().trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_))) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match std::fs::read(root.join(relative)) {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
