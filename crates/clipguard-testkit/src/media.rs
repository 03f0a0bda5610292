//! Small real videos for tests, encoded by ffmpeg from its test pattern (H.264, optional AAC
//! tone), with the index at the front (`+faststart`) so bytes appended later are ignored by
//! decoders — tests use that to make many distinct files out of one encode.

use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, Copy)]
pub struct TestVideo {
    pub width: u32,
    pub height: u32,
    pub seconds: u32,
    /// A 440 Hz tone track.
    pub audio: bool,
}

impl TestVideo {
    /// Encodes the video to `path` (MP4); panics if ffmpeg fails.
    pub fn write(&self, path: &Path) {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"])
            .arg(format!(
                "testsrc2=size={}x{}:rate=10:duration={}",
                self.width, self.height, self.seconds
            ));
        if self.audio {
            cmd.args(["-f", "lavfi", "-i"])
                .arg(format!("sine=frequency=440:duration={}", self.seconds))
                .args(["-c:a", "aac", "-shortest"]);
        }
        let status = cmd
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(["-movflags", "+faststart", "-f", "mp4"])
            .arg(path)
            .status()
            .expect("ffmpeg runs");
        assert!(
            status.success(),
            "ffmpeg could not encode {}",
            path.display()
        );
    }
}
