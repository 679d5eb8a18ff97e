//! What the page tests share: headless Chromium (screenshots, the DOM it renders) and
//! the check that a page fetches nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The page must not fetch anything: no http(s) src/href, no @import, no url(http…), no
/// scripts, links, images or frames.
pub fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "@import",
        "url(http",
        "url(\"http",
        "url('http",
        "<script",
        "<link",
        "<img",
        "<iframe",
        "src=\"//",
        "href=\"//",
    ] {
        assert!(!lower.contains(bad), "the page contains `{bad}`");
    }
}

pub fn chromium() -> PathBuf {
    if let Ok(p) = std::env::var("GOLDENPATH_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!(
        "headless Chromium is needed to check what goldenpath's pages look like, and none was found.\n\
         Install it with `apt-get update && apt-get install -y chromium` (CI does), \
         or point GOLDENPATH_CHROMIUM at a Chromium binary."
    );
}

/// Runs Chromium headless with `args` on `page`, killing it after 90 s. Its output goes to
/// files, not pipes: a page's DOM is larger than a pipe holds, and nobody reads the pipe
/// while waiting.
pub fn run_chromium(args: &[String], page: &Path) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let stdout = tempfile::tempfile().unwrap();
    let stderr = tempfile::tempfile().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut bytes = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut bytes).unwrap();
        bytes
    };
    std::process::Output {
        status,
        stdout: read(stdout),
        stderr: read(stderr),
    }
}

/// A screenshot's pixels.
pub struct Screenshot {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Screenshot {
    /// Pixels within `tol` of `hex` anywhere.
    pub fn count_all(&self, hex: &str, tol: i32) -> usize {
        self.count(hex, tol, 0..self.height)
    }

    pub fn take(page: &Path, out: &Path, width: u32, height: u32) -> Screenshot {
        let _ = std::fs::remove_file(out);
        let output = run_chromium(
            &[
                format!("--screenshot={}", out.display()),
                format!("--window-size={width},{height}"),
            ],
            page,
        );
        assert!(
            out.is_file(),
            "chromium wrote no screenshot: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(out).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = info.color_type.samples();
        assert!(channels >= 3, "{:?}", info.color_type);
        let rgb = buf[..info.buffer_size()]
            .chunks(channels)
            .flat_map(|px| [px[0], px[1], px[2]])
            .collect();
        Screenshot {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    /// Pixels within `tol` (sum of channel differences) of `hex`, in rows `y0..y1`.
    pub fn count(&self, hex: &str, tol: i32, rows: std::ops::Range<usize>) -> usize {
        let c = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap();
        let (r, g, b) = (
            (c >> 16) as i32,
            ((c >> 8) & 0xff) as i32,
            (c & 0xff) as i32,
        );
        rows.take_while(|y| *y < self.height)
            .map(|y| {
                let row = &self.rgb[y * self.width * 3..(y + 1) * self.width * 3];
                row.chunks(3)
                    .filter(|p| {
                        (p[0] as i32 - r).abs() + (p[1] as i32 - g).abs() + (p[2] as i32 - b).abs()
                            <= tol
                    })
                    .count()
            })
            .sum()
    }
}
