//! Many images in one run: resolve every argument concurrently, then gather
//! evidence once per distinct (repository, digest), with progress on a
//! terminal. Shared by `verify`, `verify-attestation` and `verify --policy`.

use std::collections::HashMap;
use std::future::Future;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{StreamExt as _, stream};
use sigil_verifier::digest::Digest;
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::RegistryClient;
use sigil_verifier::store::{AnyStore, Store as _};

use super::resolve;

/// An image argument and the store and digest it resolved to (or why not).
pub struct Resolved {
    pub image: ImageRef,
    pub outcome: Result<(AnyStore, Digest), String>,
}

/// Resolves every image (concurrently, results in argument order).
pub async fn resolve_all(images: Vec<ImageRef>, client: &Arc<RegistryClient>, concurrency: usize) -> Vec<Resolved> {
    stream::iter(images)
        .map(|image| async move {
            let outcome = async {
                let store = AnyStore::open(&image, client, false)?;
                let descriptor = resolve(&store, &image).await?;
                Ok::<_, sigil_verifier::store::StoreError>((store, descriptor.digest))
            }
            .await
            .map_err(|e| e.to_string());
            Resolved { image, outcome }
        })
        .buffered(concurrency)
        .collect()
        .await
}

/// Runs `gather` once per distinct (repository, digest) among the resolved
/// images and hands each image its result (errors as text), shared, not
/// copied: evidence can be large.
pub async fn gather_each<'a, T, F, Fut>(
    resolved: &'a [Resolved],
    concurrency: usize,
    gather: F,
) -> Vec<Result<Arc<T>, String>>
where
    F: Fn(&'a AnyStore, &'a Digest) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let mut unique: Vec<(&AnyStore, &Digest)> = Vec::new();
    let mut index_of = HashMap::new();
    let slots: Vec<Option<usize>> = resolved
        .iter()
        .map(|r| {
            let (store, digest) = r.outcome.as_ref().ok()?;
            Some(*index_of.entry((store.location(), digest.clone())).or_insert_with(|| {
                unique.push((store, digest));
                unique.len() - 1
            }))
        })
        .collect();
    let progress = Progress::new("gathering evidence", unique.len());
    let gathered: Vec<Result<Arc<T>, String>> = stream::iter(unique)
        .map(|(store, digest)| {
            let (gather, progress) = (&gather, &progress);
            async move {
                let result = gather(store, digest).await.map(Arc::new);
                progress.tick();
                result
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    progress.finish();
    resolved
        .iter()
        .zip(slots)
        .map(|(r, slot)| match (&r.outcome, slot) {
            (Err(e), _) => Err(e.clone()),
            (Ok(_), Some(i)) => gathered[i].clone(),
            (Ok(_), None) => Err("internal: image without a gathering slot".to_owned()),
        })
        .collect()
}

/// A counter on stderr, shown only on a terminal and for more than one image.
pub struct Progress {
    doing: &'static str,
    total: usize,
    done: AtomicUsize,
    visible: bool,
}

impl Progress {
    /// A counter of `total` images for the work named `doing` ("signing").
    pub fn new(doing: &'static str, total: usize) -> Progress {
        Progress {
            doing,
            total,
            done: AtomicUsize::new(0),
            visible: total > 1 && std::io::stderr().is_terminal(),
        }
    }

    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.visible {
            eprint!("\r{}: {done}/{} images", self.doing, self.total);
        }
    }

    pub fn finish(&self) {
        if self.visible {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Runs the pure, CPU-bound `judge` over `items` on every core, results in
/// order. Keyless evidence costs about a millisecond of signature checks per
/// piece; hundreds of images should not pay that on one core while the
/// others idle. It blocks the calling thread until every item is judged, so
/// it runs only after gathering (all I/O) is over.
pub fn judge_all<T: Sync, R: Send>(items: &[T], judge: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads <= 1 || items.len() <= 1 {
        return items.iter().map(judge).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&judge).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// What one image argument came to: its digest and the judgement of its
/// evidence, or why it could not be evaluated.
pub struct Judged<C> {
    pub image: ImageRef,
    pub outcome: Result<(Digest, C), String>,
}

/// Judges each resolved image's gathered evidence with `judge` (on every
/// core, see [`judge_all`]), in argument order.
pub fn judge_images<E: Send + Sync, C: Send>(
    resolved: &[Resolved],
    gathered: Vec<Result<Arc<E>, String>>,
    judge: impl Fn(&E, &Digest) -> C + Sync,
) -> Vec<Judged<C>> {
    let pairs: Vec<_> = resolved.iter().zip(gathered).collect();
    judge_all(&pairs, |(r, evidence)| Judged {
        image: r.image.clone(),
        outcome: match (&r.outcome, evidence) {
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
            (Ok((_, digest)), Ok(evidence)) => Ok((digest.clone(), judge(evidence, digest))),
        },
    })
}

/// One judged piece of evidence, for the human report.
pub enum Line {
    Valid { origin: String, signer: String },
    Invalid { origin: String, reason: String },
}

impl Line {
    /// The line for evidence found at `origin` and judged `outcome`.
    pub fn of(
        origin: &sigil_verifier::gather::Origin,
        outcome: Result<&sigil_verifier::verify::Signer, &sigil_verifier::verify::Rejection>,
    ) -> Line {
        match outcome {
            Ok(signer) => Line::Valid {
                origin: origin.to_string(),
                signer: signer.to_string(),
            },
            Err(why) => Line::Invalid {
                origin: origin.to_string(),
                reason: why.to_string(),
            },
        }
    }
}

/// The human report of every image: for each, [`human_lines`] over its
/// checks, each check turned into a [`Line`] by `line`.
pub fn human_report<C>(results: &[Judged<Vec<C>>], noun: &str, line: impl Fn(&C) -> Line) -> String {
    results
        .iter()
        .map(|r| {
            let judged = r
                .outcome
                .as_ref()
                .ok()
                .map(|(digest, checks)| (digest, checks.iter().map(&line).collect()));
            human_lines(&r.image, judged, noun)
        })
        .collect()
}

/// The human report of one image: a PASS/FAIL/ERROR line and one line per
/// piece of evidence. `noun` names the evidence ("signatures", "... attestations").
fn human_lines(image: &ImageRef, judged: Option<(&Digest, Vec<Line>)>, noun: &str) -> String {
    let Some((digest, lines)) = judged else {
        return format!("ERROR  {image}: could not be evaluated (see stderr)\n");
    };
    let valid = lines.iter().filter(|l| matches!(l, Line::Valid { .. })).count();
    let verdict = if valid > 0 { "PASS " } else { "FAIL " };
    let summary = if lines.is_empty() {
        format!("no {noun} found")
    } else {
        format!("{valid} of {} {noun} valid", lines.len())
    };
    let mut text = format!("{verdict}  {image} ({digest}): {summary}\n");
    for line in lines {
        match line {
            Line::Valid { origin, signer } => {
                text.push_str(&format!("         valid    {origin} signed by {signer}\n"))
            }
            Line::Invalid { origin, reason } => text.push_str(&format!("         invalid  {origin}: {reason}\n")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::judge_all;

    #[test]
    fn judging_on_every_core_keeps_the_order() {
        for n in [0, 1, 2, 3, 1001] {
            let items: Vec<u64> = (0..n).collect();
            let judged = judge_all(&items, |x| x * 2);
            assert_eq!(judged, items.iter().map(|x| x * 2).collect::<Vec<_>>(), "{n} items");
        }
    }
}
