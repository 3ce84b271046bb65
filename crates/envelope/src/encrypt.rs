//! Encrypting a stream into a message (`client-apis/encrypt.md`).
//!
//! [`EncryptingWriter`] is the engine: it writes the header as soon as it is
//! built, then one frame each time a frame's worth of plaintext has arrived
//! *and* more follows (a plaintext that is an exact multiple of the frame
//! length ends with a full final frame, the spec's preferred form, unless
//! [`EncryptOptions::with_empty_final_frame`] asks for the other allowed
//! form), then the final frame and, for signed suites, the footer. Memory is one or two
//! frame buffers, whatever the plaintext length. [`encrypt`] and
//! [`encrypt_to_vec`] drive it from a reader or a slice.
//!
//! It does no I/O of its own beyond the `Read`/`Write` it is given.

use std::io::{self, Read, Write};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce};
use aws_lc_rs::rand;
use zeroize::Zeroizing;

use crate::body::{self, FrameFields, FINAL_PREFIX_LEN};
use crate::context::{EncryptionContext, RESERVED_CONTEXT_PREFIX};
use crate::error::EnvelopeError;
use crate::header::{ContentType, HeaderAuthentication, MessageHeader};
use crate::keys::{derive_message_keys, MessageKeys};
use crate::materials::{EncryptionMaterialsRequest, MaterialsManager};
use crate::parallel;
use crate::signature::{MessageHasher, SigningKey};
use crate::suite::{AlgorithmSuite, CommitmentPolicy, IV_LEN, TAG_LEN};

/// The frame length the SDKs default to.
pub const DEFAULT_FRAME_LENGTH: u32 = 4096;

/// The longest frame we write: `2^31 - 1`. The format allows `2^32 - 1`, but
/// the Python SDK refuses to read frames longer than its `MAX_FRAME_SIZE`
/// (`2^31 - 1`) and the Java SDK holds frame sizes in an `int`.
pub const MAX_FRAME_LENGTH: u32 = i32::MAX as u32;

/// How to encrypt: the caller's inputs to the encrypt operation besides the
/// plaintext and the materials manager.
#[derive(Clone, Debug)]
pub struct EncryptOptions {
    encryption_context: EncryptionContext,
    algorithm_suite: Option<AlgorithmSuite>,
    frame_length: u32,
    commitment_policy: CommitmentPolicy,
    max_encrypted_data_keys: Option<usize>,
    plaintext_length_bound: Option<u64>,
    empty_final_frame: bool,
    threads: usize,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            encryption_context: EncryptionContext::new(),
            algorithm_suite: None,
            frame_length: DEFAULT_FRAME_LENGTH,
            commitment_policy: CommitmentPolicy::default(),
            max_encrypted_data_keys: None,
            plaintext_length_bound: None,
            empty_final_frame: false,
            threads: 1,
        }
    }
}

impl EncryptOptions {
    /// The defaults: empty context, the policy's default suite (`05 78`),
    /// 4096-byte frames, `RequireEncryptRequireDecrypt`, no limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encryption context to bind to the message. Keys starting with
    /// `aws-crypto-` are reserved and make encryption fail.
    pub fn with_encryption_context(mut self, context: EncryptionContext) -> Self {
        self.encryption_context = context;
        self
    }

    /// The algorithm suite, instead of the policy's default.
    pub fn with_algorithm_suite(mut self, suite: AlgorithmSuite) -> Self {
        self.algorithm_suite = Some(suite);
        self
    }

    /// The plaintext length of each regular frame, from 1 to
    /// [`MAX_FRAME_LENGTH`]. (The Python SDK only *writes* multiples of 128
    /// but reads any length.)
    pub fn with_frame_length(mut self, frame_length: u32) -> Self {
        self.frame_length = frame_length;
        self
    }

    /// The commitment policy.
    pub fn with_commitment_policy(mut self, policy: CommitmentPolicy) -> Self {
        self.commitment_policy = policy;
        self
    }

    /// Fail if the materials hold more encrypted data keys than this.
    pub fn with_max_encrypted_data_keys(mut self, max: usize) -> Self {
        self.max_encrypted_data_keys = Some(max);
        self
    }

    /// Declares an upper bound on the plaintext length; encryption fails if
    /// the plaintext exceeds it. A caching materials manager uses it to
    /// account bytes per data key before any byte is encrypted.
    pub fn with_plaintext_length_bound(mut self, bound: u64) -> Self {
        self.plaintext_length_bound = Some(bound);
        self
    }

    /// When the plaintext is a non-zero exact multiple of the frame length,
    /// end with a full regular frame and an empty final frame instead of a
    /// full final frame. The spec allows both ("SHOULD be equal to the frame
    /// length but MAY be 0"), but the Python SDK before 4.0 — and so every
    /// release of the AWS Encryption SDK CLI, which needs it — rejects a final
    /// frame as long as the frame length ("Invalid final frame length"), and
    /// writes the empty form itself. Use this for messages such readers open.
    pub fn with_empty_final_frame(mut self, empty: bool) -> Self {
        self.empty_final_frame = empty;
        self
    }

    /// Seal frames on this many worker threads when encrypting from a
    /// reader ([`EncryptingWriter::copy_from`], [`encrypt`]), the calling
    /// thread reading, hashing and writing them in order and sealing a batch
    /// itself whenever every worker is busy; 1, the default, seals them all
    /// on the calling thread. The message is the same either way: frames are
    /// independent. Memory grows by about 2 MiB per thread, and frames
    /// longer than 1 MiB are always sealed on the caller.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The frame length.
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }
}

/// Encrypts everything written to it into a message written to `W`.
///
/// Call [`finish`](Self::finish) at the end: until then the message has no
/// final frame (and no signature), and any reader rejects it as truncated.
pub struct EncryptingWriter<W: Write> {
    output: W,
    header: MessageHeader,
    keys: MessageKeys,
    frame_length: usize,
    /// `[prefix space | plaintext (frame_length) | tag]`: a frame is sealed in
    /// place and written from here in one piece.
    frame: Zeroizing<Vec<u8>>,
    /// A second frame buffer, used by `copy_from` to read ahead.
    spare: Zeroizing<Vec<u8>>,
    staged: usize,
    sequence_number: u32,
    aad: Vec<u8>,
    hasher: Option<MessageHasher>,
    signing_key: Option<SigningKey>,
    plaintext_length: u64,
    plaintext_length_bound: Option<u64>,
    empty_final_frame: bool,
    threads: usize,
    poisoned: bool,
}

impl<W: Write> EncryptingWriter<W> {
    /// Gets materials, writes the header to `output`, and returns a writer
    /// for the plaintext.
    pub fn new(
        materials_manager: &dyn MaterialsManager,
        options: &EncryptOptions,
        mut output: W,
    ) -> Result<Self, EnvelopeError> {
        if options.frame_length == 0 || options.frame_length > MAX_FRAME_LENGTH {
            return Err(EnvelopeError::InvalidFrameLength);
        }
        let frame_length =
            usize::try_from(options.frame_length).map_err(|_| EnvelopeError::InvalidFrameLength)?;
        if let Some((key, _)) = options
            .encryption_context
            .iter()
            .find(|(key, _)| key.starts_with(RESERVED_CONTEXT_PREFIX))
        {
            return Err(EnvelopeError::ReservedEncryptionContextKey(key.to_owned()));
        }
        let policy = options.commitment_policy;
        if let Some(suite) = options.algorithm_suite {
            if !policy.allows_encrypt(suite) {
                return Err(EnvelopeError::PolicyForbidsSuite {
                    suite,
                    policy,
                    operation: "encrypt",
                });
            }
        }
        let materials =
            materials_manager.get_encryption_materials(&EncryptionMaterialsRequest {
                encryption_context: options.encryption_context.clone(),
                algorithm_suite: options.algorithm_suite,
                commitment_policy: policy,
                max_plaintext_length: options.plaintext_length_bound,
            })?;
        let (suite, encryption_context, data_key, encrypted_data_keys, signing_key) =
            materials.into_parts();
        // The materials manager may pick another suite; the policy still rules.
        if !policy.allows_encrypt(suite) {
            return Err(EnvelopeError::PolicyForbidsSuite {
                suite,
                policy,
                operation: "encrypt",
            });
        }
        if let Some(max) = options.max_encrypted_data_keys {
            if encrypted_data_keys.len() > max {
                return Err(EnvelopeError::TooManyEncryptedDataKeys {
                    count: encrypted_data_keys.len(),
                    max,
                });
            }
        }
        let data_key = data_key.ok_or(EnvelopeError::Internal("materials without a data key"))?;
        if suite.is_signed() != signing_key.is_some() {
            return Err(EnvelopeError::Internal(
                "signing key does not match the suite",
            ));
        }

        let mut message_id = vec![0u8; suite.message_format_version().message_id_len()];
        rand::fill(&mut message_id)
            .map_err(|_| EnvelopeError::Internal("random generator failed"))?;
        let keys = derive_message_keys(suite, &data_key, &message_id)?;
        let header = MessageHeader {
            suite,
            message_id,
            encryption_context,
            encrypted_data_keys,
            content_type: ContentType::Framed,
            frame_length: options.frame_length,
            commitment_key: keys.commitment.as_deref().copied(),
        };

        // The header tag: AES-GCM over an empty plaintext with the header
        // body as AAD and an all-zero IV (encrypt spec, "Construct the header").
        let mut serialized = header.encode_body()?;
        let iv = [0u8; IV_LEN];
        let tag = keys
            .content
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(serialized.as_slice()),
                &mut [],
            )
            .map_err(|_| EnvelopeError::Internal("AES-GCM seal failed"))?;
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(tag.as_ref());
        HeaderAuthentication { iv, tag: tag_bytes }
            .encode(suite.message_format_version(), &mut serialized);

        let mut hasher = suite.signature().map(MessageHasher::new);
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(&serialized);
        }
        output
            .write_all(&serialized)
            .map_err(EnvelopeError::OutputWrite)?;

        Ok(EncryptingWriter {
            output,
            header,
            keys,
            frame_length,
            frame: Zeroizing::new(vec![0; FINAL_PREFIX_LEN + frame_length + TAG_LEN]),
            spare: Zeroizing::new(Vec::new()),
            staged: 0,
            sequence_number: 1,
            aad: Vec::with_capacity(128),
            hasher,
            signing_key,
            plaintext_length: 0,
            plaintext_length_bound: options.plaintext_length_bound,
            empty_final_frame: options.empty_final_frame,
            threads: options.threads,
            poisoned: false,
        })
    }

    /// The header already written.
    pub fn header(&self) -> &MessageHeader {
        &self.header
    }

    /// Encrypts everything `input` yields, reading straight into the frame
    /// buffers (no copy). Returns the number of plaintext bytes read.
    pub fn copy_from<R: Read>(&mut self, mut input: R) -> Result<u64, EnvelopeError> {
        self.check_usable()?;
        let result = self.copy_from_inner(&mut input);
        self.poison_on_error(result)
    }

    /// Writes the final frame and, for signed suites, the signature, flushes,
    /// and returns the output and the header.
    pub fn finish(mut self) -> Result<(W, MessageHeader), EnvelopeError> {
        self.check_usable()?;
        if self.empty_final_frame && self.staged == self.frame_length {
            self.seal_and_write_frame(false)?;
        }
        self.seal_and_write_frame(true)?;
        if let (Some(hasher), Some(signing_key)) = (self.hasher.take(), self.signing_key.take()) {
            let signature = signing_key.sign(&hasher.finish())?;
            let footer = body::encode_footer(&signature)?;
            self.output
                .write_all(&footer)
                .map_err(EnvelopeError::OutputWrite)?;
        }
        self.output.flush().map_err(EnvelopeError::OutputWrite)?;
        Ok((self.output, self.header))
    }

    fn check_usable(&self) -> Result<(), EnvelopeError> {
        if self.poisoned {
            Err(EnvelopeError::Poisoned)
        } else {
            Ok(())
        }
    }

    fn poison_on_error<T>(&mut self, result: Result<T, EnvelopeError>) -> Result<T, EnvelopeError> {
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn copy_from_inner<R: Read>(&mut self, input: &mut R) -> Result<u64, EnvelopeError> {
        if self.frame_length <= parallel::BATCH_BYTES {
            return self.copy_from_in_batches(input);
        }
        // Frames longer than a batch: one frame buffer and a spare.
        let mut total = 0u64;
        loop {
            if self.staged < self.frame_length {
                match self.read_into_staged(input)? {
                    0 => return Ok(total),
                    read => total += read as u64,
                }
                continue;
            }
            // The frame is full: it is a regular frame only if more follows,
            // so read ahead into the spare buffer before sealing it.
            if self.spare.is_empty() {
                self.spare = Zeroizing::new(vec![0; self.frame.len()]);
            }
            let room = self
                .spare
                .get_mut(FINAL_PREFIX_LEN..FINAL_PREFIX_LEN + self.frame_length)
                .ok_or(EnvelopeError::Internal("frame buffer"))?;
            let read = read_some(input, room)?;
            if read == 0 {
                return Ok(total);
            }
            self.count_plaintext(read)?;
            self.seal_and_write_frame(false)?;
            std::mem::swap(&mut self.frame, &mut self.spare);
            self.staged = read;
            total += read as u64;
        }
    }

    /// One read into the rest of the staged frame; returns the bytes read
    /// (0 at the end of the input).
    fn read_into_staged<R: Read>(&mut self, input: &mut R) -> Result<usize, EnvelopeError> {
        let room = self
            .frame
            .get_mut(FINAL_PREFIX_LEN + self.staged..FINAL_PREFIX_LEN + self.frame_length)
            .ok_or(EnvelopeError::Internal("frame buffer"))?;
        let read = read_some(input, room)?;
        self.count_plaintext(read)?;
        self.staged += read;
        Ok(read)
    }

    /// `copy_from` a batch of regular frames at a time, sealed on the
    /// calling thread or, with `self.threads > 1`, on worker threads.
    ///
    /// The calling thread reads the plaintext straight into a batch's frame
    /// slots (one vectored read fills many), hands each full batch to be
    /// sealed in place, and writes (and hashes) the sealed batches in order.
    /// A frame is regular only if more plaintext follows it, so a batch is
    /// sealed only once the first byte after it has been read; the last
    /// frame read (full or not) is left staged in `self.frame` for
    /// [`finish`](Self::finish) to seal as the final frame, as the
    /// frame-at-a-time path leaves it.
    fn copy_from_in_batches<R: Read>(&mut self, input: &mut R) -> Result<u64, EnvelopeError> {
        // Until one frame is full there is nothing to seal; a plaintext of
        // one frame or less starts no thread.
        let mut total = 0u64;
        while self.staged < self.frame_length {
            match self.read_into_staged(input)? {
                0 => return Ok(total),
                read => total += read as u64,
            }
        }

        let frame_length = self.frame_length;
        let frames_per_batch = (parallel::BATCH_BYTES / frame_length).max(1);
        let EncryptingWriter {
            output,
            header,
            keys,
            frame,
            staged,
            sequence_number,
            hasher,
            plaintext_length,
            plaintext_length_bound,
            threads,
            ..
        } = self;
        let key = &keys.content;
        let message_id = header.message_id.as_slice();
        let work = |batch: &mut SealBatch| batch.seal(key, message_id);
        // Fills a batch's slots from `first` on; returns the bytes read.
        let mut read = |batch: &mut SealBatch, first: usize| -> Result<usize, EnvelopeError> {
            let read = batch.fill_from(input, first)?;
            *plaintext_length = plaintext_length.saturating_add(read as u64);
            match *plaintext_length_bound {
                Some(bound) if *plaintext_length > bound => {
                    Err(EnvelopeError::PlaintextLengthBoundExceeded { bound })
                }
                _ => Ok(read),
            }
        };
        let mut write = |batch: &SealBatch| -> Result<(), EnvelopeError> {
            let serialized = batch.serialized();
            if let Some(hasher) = hasher.as_mut() {
                hasher.update(serialized);
            }
            output
                .write_all(serialized)
                .map_err(EnvelopeError::OutputWrite)
        };

        std::thread::scope(|scope| {
            let mut sealer = parallel::Workers::start(scope, *threads, &work)?;
            let mut spare: Vec<SealBatch> = Vec::new();
            let mut seal = |batch: SealBatch,
                            sequence_number: &mut u32,
                            spare: &mut Vec<SealBatch>|
             -> Result<(), EnvelopeError> {
                let mut batch = batch;
                hand_out(&mut batch, sequence_number)?;
                sealer.submit(batch)?;
                while let Some((sealed, result)) = sealer.next_done(false)? {
                    result?;
                    write(&sealed)?;
                    spare.push(sealed);
                }
                Ok(())
            };
            let mut batch = SealBatch::new(frames_per_batch, frame_length);
            // The frame staged above is the first of the first batch.
            batch
                .content_mut(0)
                .zip(frame.get(FINAL_PREFIX_LEN..FINAL_PREFIX_LEN + frame_length))
                .map(|(slot, staged)| slot.copy_from_slice(staged))
                .ok_or(EnvelopeError::Internal("frame buffer"))?;
            batch.frames = 1;
            // Fill batches until the plaintext ends; then `last` is the
            // batch and slot of the last frame read, and its length.
            let (last_batch, last_slot, last_len) = loop {
                let first = batch.frames;
                let len = read(&mut batch, first)?;
                total += len as u64;
                batch.frames += len / frame_length;
                let partial = len % frame_length;
                if batch.frames < frames_per_batch {
                    // The plaintext ended inside this batch: in a partial
                    // slot, or right after its last full frame.
                    let slot = batch.frames;
                    if partial > 0 {
                        break (batch, slot, partial);
                    }
                    batch.frames -= 1;
                    break (batch, slot - 1, frame_length);
                }
                // Full: whether its last frame is regular depends on whether
                // anything follows, read into the next batch.
                let mut next = spare
                    .pop()
                    .unwrap_or_else(|| SealBatch::new(frames_per_batch, frame_length));
                next.frames = 0;
                let len = read(&mut next, 0)?;
                total += len as u64;
                if len == 0 {
                    batch.frames -= 1;
                    let slot = batch.frames;
                    break (batch, slot, frame_length);
                }
                seal(batch, sequence_number, &mut spare)?;
                next.frames = len / frame_length;
                if next.frames < frames_per_batch {
                    let slot = next.frames;
                    let partial = len % frame_length;
                    if partial > 0 {
                        break (next, slot, partial);
                    }
                    next.frames -= 1;
                    break (next, slot - 1, frame_length);
                }
                batch = next;
            };
            // The last frame goes back to the caller's frame buffer; the
            // regular frames before it in its batch are sealed.
            last_batch
                .content(last_slot)
                .and_then(|slot| slot.get(..last_len))
                .zip(frame.get_mut(FINAL_PREFIX_LEN..FINAL_PREFIX_LEN + last_len))
                .map(|(slot, staged)| staged.copy_from_slice(slot))
                .ok_or(EnvelopeError::Internal("frame buffer"))?;
            *staged = last_len;
            if last_batch.frames > 0 {
                seal(last_batch, sequence_number, &mut spare)?;
            }
            while let Some((sealed, result)) = sealer.next_done(true)? {
                result?;
                write(&sealed)?;
            }
            Ok(total)
        })
    }

    fn push(&mut self, mut data: &[u8]) -> Result<(), EnvelopeError> {
        while !data.is_empty() {
            if self.staged == self.frame_length {
                self.seal_and_write_frame(false)?;
            }
            let room = self.frame_length - self.staged;
            let (now, later) = data.split_at(room.min(data.len()));
            self.count_plaintext(now.len())?;
            let start = FINAL_PREFIX_LEN + self.staged;
            self.frame
                .get_mut(start..start + now.len())
                .ok_or(EnvelopeError::Internal("frame buffer"))?
                .copy_from_slice(now);
            self.staged += now.len();
            data = later;
        }
        Ok(())
    }

    fn count_plaintext(&mut self, len: usize) -> Result<(), EnvelopeError> {
        self.plaintext_length = self.plaintext_length.saturating_add(len as u64);
        match self.plaintext_length_bound {
            Some(bound) if self.plaintext_length > bound => {
                Err(EnvelopeError::PlaintextLengthBoundExceeded { bound })
            }
            _ => Ok(()),
        }
    }

    /// Seals the staged plaintext as the next frame and writes it.
    fn seal_and_write_frame(&mut self, is_final: bool) -> Result<(), EnvelopeError> {
        let sequence_number = self.sequence_number;
        // A regular frame's sequence number may not collide with the final
        // frame marker, so at most 2^32 - 1 frames fit in a message.
        if !is_final && sequence_number == body::FINAL_FRAME_MARKER {
            return Err(EnvelopeError::TooManyFrames);
        }
        let content_length =
            u32::try_from(self.staged).map_err(|_| EnvelopeError::Internal("frame length"))?;
        let fields = FrameFields {
            sequence_number,
            is_final,
            iv: body::sequence_iv(sequence_number),
            content_length,
        };
        let content_end = FINAL_PREFIX_LEN + self.staged;
        let content = self
            .frame
            .get_mut(FINAL_PREFIX_LEN..content_end)
            .ok_or(EnvelopeError::Internal("frame buffer"))?;
        let tag = seal_content(
            &self.keys.content,
            &self.header.message_id,
            &fields,
            content,
            &mut self.aad,
        )?;
        self.frame
            .get_mut(content_end..content_end + TAG_LEN)
            .ok_or(EnvelopeError::Internal("frame buffer"))?
            .copy_from_slice(&tag);
        // The prefix goes right before the content, so the frame is one slice.
        let (prefix, prefix_len) = fields.prefix();
        let start = FINAL_PREFIX_LEN - prefix_len;
        self.frame
            .get_mut(start..FINAL_PREFIX_LEN)
            .ok_or(EnvelopeError::Internal("frame buffer"))?
            .copy_from_slice(prefix.get(..prefix_len).unwrap_or_default());
        let serialized = self
            .frame
            .get(start..content_end + TAG_LEN)
            .ok_or(EnvelopeError::Internal("frame buffer"))?;
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(serialized);
        }
        self.output
            .write_all(serialized)
            .map_err(EnvelopeError::OutputWrite)?;
        self.sequence_number = sequence_number.wrapping_add(1);
        self.staged = 0;
        Ok(())
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_usable().map_err(into_io)?;
        let result = self.push(buf);
        self.poison_on_error(result).map_err(into_io)?;
        Ok(buf.len())
    }

    /// Flushes the output. A partly filled frame stays buffered: frames are
    /// only written whole.
    fn flush(&mut self) -> io::Result<()> {
        self.output.flush()
    }
}

impl<W: Write> std::fmt::Debug for EncryptingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptingWriter")
            .field("suite", &self.header.suite)
            .field("frame_length", &self.frame_length)
            .field("sequence_number", &self.sequence_number)
            .finish_non_exhaustive()
    }
}

/// Encrypts `input` into a message written to `output`, in bounded memory.
pub fn encrypt<R: Read, W: Write>(
    materials_manager: &dyn MaterialsManager,
    options: &EncryptOptions,
    input: R,
    output: W,
) -> Result<MessageHeader, EnvelopeError> {
    let mut writer = EncryptingWriter::new(materials_manager, options, output)?;
    writer.copy_from(input)?;
    let (_, header) = writer.finish()?;
    Ok(header)
}

/// Encrypts a plaintext held in memory into a message.
pub fn encrypt_to_vec(
    materials_manager: &dyn MaterialsManager,
    options: &EncryptOptions,
    plaintext: &[u8],
) -> Result<Vec<u8>, EnvelopeError> {
    // Encrypt spec: a plaintext of known length passes that length as the bound.
    let options = options
        .clone()
        .with_plaintext_length_bound(plaintext.len() as u64);
    let mut writer = EncryptingWriter::new(materials_manager, &options, Vec::new())?;
    writer.push(plaintext)?;
    let (message, _) = writer.finish()?;
    Ok(message)
}

/// Numbers a batch's frames from `next` on and advances `next` past them.
fn hand_out(batch: &mut SealBatch, next: &mut u32) -> Result<(), EnvelopeError> {
    let count = u32::try_from(batch.frames).map_err(|_| EnvelopeError::TooManyFrames)?;
    // Regular frames may not reach the final frame marker (see
    // `seal_and_write_frame`): the last one here is `after - 1`, and `after`
    // cannot pass `u32::MAX`, the marker.
    let after = next
        .checked_add(count)
        .ok_or(EnvelopeError::TooManyFrames)?;
    batch.first_sequence_number = *next;
    *next = after;
    Ok(())
}

/// Regular frames laid out as they are serialized, back to back, each
/// `[sequence number | IV | content | tag]`: the reader fills the content
/// slots, a worker seals them in place and fills in the rest, and the
/// writer writes the filled part in one piece.
struct SealBatch {
    bytes: Zeroizing<Vec<u8>>,
    frame_length: usize,
    /// Full frames in the batch, from the start.
    frames: usize,
    first_sequence_number: u32,
}

impl SealBatch {
    fn new(capacity: usize, frame_length: usize) -> Self {
        let stride = body::REGULAR_PREFIX_LEN + frame_length + TAG_LEN;
        SealBatch {
            bytes: Zeroizing::new(vec![0; capacity * stride]),
            frame_length,
            frames: 0,
            first_sequence_number: 0,
        }
    }

    fn stride(&self) -> usize {
        body::REGULAR_PREFIX_LEN + self.frame_length + TAG_LEN
    }

    /// The content slot of frame `index`.
    fn content_mut(&mut self, index: usize) -> Option<&mut [u8]> {
        let start = index * self.stride() + body::REGULAR_PREFIX_LEN;
        self.bytes.get_mut(start..start + self.frame_length)
    }

    /// The content slot of frame `index`.
    fn content(&self, index: usize) -> Option<&[u8]> {
        let start = index * self.stride() + body::REGULAR_PREFIX_LEN;
        self.bytes.get(start..start + self.frame_length)
    }

    /// Reads plaintext into the content slots from `first` on, with one
    /// vectored read for as many slots as the input gives at once, until
    /// they are full or the input ends; returns the bytes read.
    fn fill_from<R: Read>(&mut self, input: &mut R, first: usize) -> Result<usize, EnvelopeError> {
        let stride = self.stride();
        let content = body::REGULAR_PREFIX_LEN..body::REGULAR_PREFIX_LEN + self.frame_length;
        let mut slots: Vec<io::IoSliceMut<'_>> = self
            .bytes
            .chunks_exact_mut(stride)
            .skip(first)
            .filter_map(|slot| slot.get_mut(content.clone()).map(io::IoSliceMut::new))
            .collect();
        let mut slots = slots.as_mut_slice();
        let mut filled = 0;
        while !slots.is_empty() {
            match input.read_vectored(slots) {
                Ok(0) => break,
                Ok(read) => {
                    filled += read;
                    io::IoSliceMut::advance_slices(&mut slots, read);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(EnvelopeError::InputRead(error)),
            }
        }
        Ok(filled)
    }

    /// The sealed frames, serialized.
    fn serialized(&self) -> &[u8] {
        self.bytes
            .get(..self.frames * self.stride())
            .unwrap_or_default()
    }

    /// Seals every frame in place (on a worker thread).
    fn seal(&mut self, key: &LessSafeKey, message_id: &[u8]) -> Result<(), EnvelopeError> {
        let stride = self.stride();
        let content_length = u32::try_from(self.frame_length)
            .map_err(|_| EnvelopeError::Internal("frame length"))?;
        let mut aad = Vec::with_capacity(128);
        let frames = self
            .bytes
            .chunks_exact_mut(stride)
            .take(self.frames)
            .zip(self.first_sequence_number..);
        for (serialized, sequence_number) in frames {
            let fields = FrameFields {
                sequence_number,
                is_final: false,
                iv: body::sequence_iv(sequence_number),
                content_length,
            };
            let (prefix, rest) = serialized.split_at_mut(body::REGULAR_PREFIX_LEN);
            let (content, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
            tag.copy_from_slice(&seal_content(key, message_id, &fields, content, &mut aad)?);
            let (fields_prefix, prefix_len) = fields.prefix();
            prefix.copy_from_slice(fields_prefix.get(..prefix_len).unwrap_or_default());
        }
        Ok(())
    }
}

/// Seals `content` in place as the frame `fields` describes and returns its
/// tag (AAD: the body AAD of the frame, built in `aad`).
fn seal_content(
    key: &LessSafeKey,
    message_id: &[u8],
    fields: &FrameFields,
    content: &mut [u8],
    aad: &mut Vec<u8>,
) -> Result<[u8; TAG_LEN], EnvelopeError> {
    body::frame_aad(message_id, fields, aad);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(fields.iv),
            Aad::from(aad.as_slice()),
            content,
        )
        .map_err(|_| EnvelopeError::Internal("AES-GCM seal failed"))?;
    let mut bytes = [0u8; TAG_LEN];
    bytes.copy_from_slice(tag.as_ref());
    Ok(bytes)
}

/// One `read`, retried on `Interrupted`.
fn read_some<R: Read>(input: &mut R, buf: &mut [u8]) -> Result<usize, EnvelopeError> {
    loop {
        match input.read(buf) {
            Ok(read) => return Ok(read),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(EnvelopeError::InputRead(error)),
        }
    }
}

fn into_io(error: EnvelopeError) -> io::Error {
    match error {
        EnvelopeError::OutputWrite(error) => error,
        other => io::Error::other(other),
    }
}
