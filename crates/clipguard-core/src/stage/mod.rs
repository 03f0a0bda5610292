//! The traits each pipeline stage's backends implement. The embedded backends (SQLite queue and
//! store, local media folder) live in `clipguard-pipeline`; the scale-out ones (Kafka, Postgres,
//! S3) implement the same traits, so the worker loop never knows which it talks to.

pub mod accounts;
pub mod analyser;
pub mod crawl;
pub mod media;
pub mod queue;
pub mod reviews;
pub mod settings;
pub mod store;

pub use accounts::{Accounts, Principal, Role, Session};
pub use analyser::{Analyser, AnalyserOutput, AnalysisInput, AudioClip, Frame, MediaProbe};
pub use crawl::{CrawlJobStatus, CrawlJobs};
pub use media::{LocalMedia, MediaError, MediaStore};
pub use queue::{DeadLetter, Delivery, Queue, QueueError, QueueMessage, RetryOutcome};
pub use reviews::{NewReview, Review, ReviewItem, ReviewPolicy, Reviews};
pub use settings::{SettingVersion, Settings, SettingsCheck};
pub use store::{InsertOutcome, Store, StoreError};
