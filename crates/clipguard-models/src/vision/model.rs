//! Open-NSFW as a [`BatchModel`]: frames from many videos are prepared (resize, JPEG
//! round-trip, crop) and scored on the model thread, so the async workers never do image work.

use super::{OpenNsfw, prepare};
use crate::ModelError;
use crate::thread::BatchModel;

/// One decoded RGB8 frame: (pixels, width, height).
pub type FrameInput = (Vec<u8>, u32, u32);

impl BatchModel for OpenNsfw {
    type Input = FrameInput;
    /// The NSFW probability.
    type Output = f32;

    fn cost(&self, _: &FrameInput) -> usize {
        1
    }

    fn run_batch(&self, inputs: Vec<FrameInput>) -> Vec<Result<f32, ModelError>> {
        let prepared: Vec<_> = inputs
            .iter()
            .map(|(rgb, w, h)| prepare(rgb, *w, *h))
            .collect();
        let ok: Vec<_> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let mut scores = match self.score(&ok) {
            Ok(s) => s.into_iter(),
            Err(e) => {
                let message = e.to_string();
                return inputs
                    .iter()
                    .map(|_| Err(ModelError::runtime("open-nsfw", &message)))
                    .collect();
            }
        };
        prepared
            .into_iter()
            .map(|p| match p {
                Ok(_) => scores
                    .next()
                    .ok_or_else(|| ModelError::runtime("open-nsfw", "missing score")),
                Err(e) => Err(ModelError::runtime("open-nsfw", e)),
            })
            .collect()
    }

    fn warm_up(&self) -> Result<(), ModelError> {
        let grey = vec![128u8; 64 * 64 * 3];
        let p = prepare(&grey, 64, 64).map_err(|e| ModelError::runtime("open-nsfw", e))?;
        self.score(&[p])
            .map(|_| ())
            .map_err(|e| ModelError::runtime("open-nsfw", e))
    }
}
