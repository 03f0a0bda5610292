//! The HTTP layer of the MLflow backend: JSON calls to `/api/2.0/mlflow/…` and file transfers
//! through the artifact proxy `/api/2.0/mlflow-artifacts/artifacts/…` (what `mlflow server`
//! serves by default since 2.0), with timeouts on every request and MLflow's `error_code` and
//! `message` kept in the error.

use super::api::ErrorBody;
use super::config::MlflowConfig;
use crate::error::RegistryError;
use futures::StreamExt;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const API: &str = "/api/2.0/mlflow/";
const ARTIFACTS: &str = "/api/2.0/mlflow-artifacts/artifacts/";
const MAX_ERROR_MESSAGE: usize = 500;

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    artifact_timeout: Duration,
}

/// MLflow said the thing does not exist.
pub(crate) fn is_not_found(e: &RegistryError) -> bool {
    matches!(e, RegistryError::Mlflow { status, error_code, .. }
        if *status == 404 || error_code == "RESOURCE_DOES_NOT_EXIST")
}

/// MLflow said the thing already exists (a create raced another, or ran twice).
pub(crate) fn is_already_exists(e: &RegistryError) -> bool {
    matches!(e, RegistryError::Mlflow { error_code, .. } if error_code == "RESOURCE_ALREADY_EXISTS")
}

/// The proxy path of an `mlflow-artifacts:` URI (`mlflow-artifacts:/1/<run>/artifacts` →
/// `1/<run>/artifacts`). Other schemes mean the server does not proxy artifacts
/// (`--no-serve-artifacts`): the client would need direct access to that storage.
pub(crate) fn artifact_path(uri: &str) -> Result<String, RegistryError> {
    let rest = uri.strip_prefix("mlflow-artifacts:").ok_or_else(|| {
        RegistryError::Unsupported(format!(
            "artifact location `{uri}` is not served by the tracking server; start `mlflow server` \
             with artifact serving on (the default) so artifacts go through \
             /api/2.0/mlflow-artifacts"
        ))
    })?;
    // `mlflow-artifacts://host:port/path` names a host; the path is what follows it.
    let path = match rest.strip_prefix("//") {
        Some(after) => after.find('/').map_or("", |i| &after[i..]),
        None => rest,
    };
    Ok(path.trim_matches('/').to_string())
}

impl Client {
    pub(crate) fn new(config: &MlflowConfig) -> Result<Client, RegistryError> {
        let base = config.url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(RegistryError::Unsupported(format!(
                "MLflow URL `{base}`: only http:// is supported (reqwest is built without TLS)"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeout().min(Duration::from_secs(10)))
            .timeout(config.timeout())
            .build()
            .map_err(|e| RegistryError::Transport {
                endpoint: base.clone(),
                message: e.to_string(),
            })?;
        Ok(Client {
            http,
            base,
            artifact_timeout: config.artifact_timeout(),
        })
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request; a transport failure or a non-2xx answer becomes a typed error.
    async fn send(
        &self,
        endpoint: &str,
        request: RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let response = request.send().await.map_err(|e| RegistryError::Transport {
            endpoint: endpoint.to_string(),
            message: if e.is_timeout() {
                format!("timed out: {e}")
            } else {
                e.to_string()
            },
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let (error_code, message) = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) if !e.error_code.is_empty() || !e.message.is_empty() => (e.error_code, e.message),
            _ => (
                String::new(),
                body.chars().take(MAX_ERROR_MESSAGE).collect(),
            ),
        };
        Err(RegistryError::Mlflow {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            error_code,
            message,
        })
    }

    async fn json<T: DeserializeOwned>(
        endpoint: &str,
        response: Response,
    ) -> Result<T, RegistryError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RegistryError::Transport {
                endpoint: endpoint.to_string(),
                message: e.to_string(),
            })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::corrupt(format!("MLflow {endpoint} answer"), e))
    }

    /// `GET /api/2.0/mlflow/<method>?<query>`.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        method: &str,
        query: &[(&str, &str)],
    ) -> Result<T, RegistryError> {
        let url = format!("{}{API}{method}", self.base);
        let response = self.send(method, self.http.get(url).query(query)).await?;
        Self::json(method, response).await
    }

    /// `POST` (or another method) `/api/2.0/mlflow/<method>` with a JSON body.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        http_method: Method,
        method: &str,
        body: &serde_json::Value,
    ) -> Result<T, RegistryError> {
        let url = format!("{}{API}{method}", self.base);
        let body = serde_json::to_vec(body).map_err(|e| RegistryError::corrupt("request", e))?;
        let request = self
            .http
            .request(http_method, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let response = self.send(method, request).await?;
        Self::json(method, response).await
    }

    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        method: &str,
        body: &serde_json::Value,
    ) -> Result<T, RegistryError> {
        self.call(Method::POST, method, body).await
    }

    fn artifact_url(&self, path: &str) -> String {
        format!("{}{ARTIFACTS}{}", self.base, path.trim_start_matches('/'))
    }

    /// Uploads a local file to an artifact path, streamed with its length announced.
    pub(crate) async fn upload_file(&self, path: &str, file: &Path) -> Result<(), RegistryError> {
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|e| RegistryError::io(file, e))?;
        let len = opened
            .metadata()
            .await
            .map_err(|e| RegistryError::io(file, e))?
            .len();
        let request = self
            .http
            .put(self.artifact_url(path))
            .timeout(self.artifact_timeout)
            .header(CONTENT_LENGTH, len)
            .body(reqwest::Body::from(opened));
        self.send(path, request).await.map(drop)
    }

    pub(crate) async fn upload_bytes(
        &self,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<(), RegistryError> {
        let request = self
            .http
            .put(self.artifact_url(path))
            .timeout(self.artifact_timeout)
            .body(bytes);
        self.send(path, request).await.map(drop)
    }

    /// Downloads an artifact into a local file, streamed.
    pub(crate) async fn download_file(&self, path: &str, to: &Path) -> Result<(), RegistryError> {
        let request = self
            .http
            .get(self.artifact_url(path))
            .timeout(self.artifact_timeout);
        let response = self.send(path, request).await?;
        let mut out = tokio::fs::File::create(to)
            .await
            .map_err(|e| RegistryError::io(to, e))?;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| RegistryError::Transport {
                endpoint: path.to_string(),
                message: e.to_string(),
            })?;
            out.write_all(&chunk)
                .await
                .map_err(|e| RegistryError::io(to, e))?;
        }
        out.flush().await.map_err(|e| RegistryError::io(to, e))
    }

    /// Downloads a small artifact into memory.
    pub(crate) async fn download_bytes(&self, path: &str) -> Result<Vec<u8>, RegistryError> {
        let request = self.http.get(self.artifact_url(path));
        let response = self.send(path, request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RegistryError::Transport {
                endpoint: path.to_string(),
                message: e.to_string(),
            })?;
        Ok(bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_uris_map_to_proxy_paths() {
        assert_eq!(
            artifact_path("mlflow-artifacts:/1/abc/artifacts").unwrap(),
            "1/abc/artifacts"
        );
        assert_eq!(
            artifact_path("mlflow-artifacts://127.0.0.1:5000/1/abc/artifacts/").unwrap(),
            "1/abc/artifacts"
        );
        assert!(matches!(
            artifact_path("file:///tmp/mlruns/1/abc/artifacts"),
            Err(RegistryError::Unsupported(_))
        ));
    }
}
