//! Decrypting a message from a stream (`client-apis/decrypt.md`).
//!
//! The order is the spec's: parse the header (stopping at once if it lists
//! more encrypted data keys than allowed), check the commitment policy, get
//! the data key from the materials manager, check the key commitment, verify
//! the header tag, then decrypt frame by frame, then verify the signature.
//! Nothing from the header is returned before it is verified.
//!
//! # What is released, and when
//!
//! A regular frame's plaintext is written to the output as soon as its tag
//! verifies. The final frame's plaintext (and a legacy non-framed body) is
//! held back until everything after it has been checked: the signature, and
//! that no bytes follow the message. So a truncated message — one cut at a
//! frame boundary included — never looks complete: its last frame is never
//! written, and the call fails.
//!
//! With a *signed* suite, regular frames written early are authenticated by
//! the data key but not yet by the signature, i.e. anyone holding the data
//! key could have forged them. The spec therefore wants such plaintext
//! treated as untrusted until decrypt returns `Ok`, and [`decrypt`] refuses a
//! signed message right after parsing its header unless the caller opts in
//! with [`SignedStreaming::ReleaseBeforeSignature`]. [`decrypt_to_vec`]
//! buffers the plaintext and returns it only after the signature verifies.
//!
//! A command that decrypts to a file should opt in and write to a temporary
//! file in the destination directory, then rename it onto the final path
//! only after [`decrypt`] returned `Ok` (and delete it on any error). That
//! keeps memory bounded and never leaves unverified plaintext at the path the
//! user asked for. Writing to stdout cannot be taken back, so there the CLI
//! should either refuse signed messages or say that output before an error
//! must be discarded, as the SDK's CLI does with its `--buffer` option.

use std::io::{self, Read, Write};

use aws_lc_rs::aead::{Aad, Nonce};
use zeroize::Zeroizing;

use crate::body::{
    self, BodyAadContent, FINAL_FRAME_MARKER, FINAL_PREFIX_LEN, NON_FRAMED_PREFIX_LEN,
};
use crate::context::EncryptionContext;
use crate::error::{EnvelopeError, Malformation, MessageSection};
use crate::header::{self, ContentType, DecodedHeader, MessageHeader};
use crate::keys::{commitment_matches, derive_message_keys};
use crate::materials::{DecryptMaterialsRequest, MaterialsManager};
use crate::parallel;
use crate::signature::MessageHasher;
use crate::suite::{CommitmentPolicy, IV_LEN, TAG_LEN};

/// First read size while looking for the end of the header.
const HEADER_READ_CHUNK: usize = 4096;

/// Whether a streaming decrypt may release plaintext of a signed message
/// before the signature at its end is verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignedStreaming {
    /// Refuse signed messages (the spec's "fail immediately after parsing the
    /// header if a signed algorithm suite is used"). The default.
    #[default]
    Refuse,
    /// Write each regular frame's plaintext once its tag verifies; the
    /// signature is checked at the end. The caller must discard everything
    /// written if decrypt fails.
    ReleaseBeforeSignature,
}

/// How to decrypt.
#[derive(Clone, Debug, Default)]
pub struct DecryptOptions {
    commitment_policy: CommitmentPolicy,
    max_encrypted_data_keys: Option<usize>,
    expected_encryption_context: EncryptionContext,
    signed_streaming: SignedStreaming,
    threads: Option<usize>,
}

impl DecryptOptions {
    /// The defaults: `RequireEncryptRequireDecrypt`, no EDK limit, no
    /// required context, signed messages refused by streaming decrypt.
    pub fn new() -> Self {
        Self::default()
    }

    /// The commitment policy. Version 1 messages and non-committing suites
    /// need `RequireEncryptAllowDecrypt` or `ForbidEncryptAllowDecrypt`.
    pub fn with_commitment_policy(mut self, policy: CommitmentPolicy) -> Self {
        self.commitment_policy = policy;
        self
    }

    /// Refuse messages with more encrypted data keys than this, before
    /// trying any (client spec, "Maximum Number Of Encrypted Data Keys").
    pub fn with_max_encrypted_data_keys(mut self, max: usize) -> Self {
        self.max_encrypted_data_keys = Some(max);
        self
    }

    /// Pairs the message's encryption context must contain, with these values.
    pub fn with_expected_encryption_context(mut self, context: EncryptionContext) -> Self {
        self.expected_encryption_context = context;
        self
    }

    /// Whether streaming decrypt may release plaintext of signed messages
    /// before the signature is verified.
    pub fn with_signed_streaming(mut self, mode: SignedStreaming) -> Self {
        self.signed_streaming = mode;
        self
    }

    /// Open regular frames on this many worker threads in [`decrypt`] (the
    /// calling thread opening a batch itself whenever every worker is busy);
    /// 1, the default, opens them on the calling thread. What is released and
    /// when does not change: the calling thread still reads, hashes and
    /// writes frames in order, each only after its tag verified, and the
    /// final frame is decrypted on the caller as before. Memory grows to
    /// about 2 MiB per thread; frames longer than 1 MiB are always opened on
    /// the caller.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    fn threads(&self) -> usize {
        self.threads.unwrap_or(1)
    }
}

/// Decrypted plaintext held in memory: zeroized on drop, never printed.
pub struct Plaintext(Zeroizing<Vec<u8>>);

impl Plaintext {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The length.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes, still zeroized on drop.
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plaintext(<redacted {} bytes>)", self.0.len())
    }
}

/// Decrypts a message read from `input`, writing plaintext to `output` as it
/// is authenticated (see the module documentation for what is released when).
/// Returns the verified header.
pub fn decrypt<R: Read, W: Write>(
    materials_manager: &dyn MaterialsManager,
    options: &DecryptOptions,
    input: R,
    mut output: W,
) -> Result<MessageHeader, EnvelopeError> {
    let mut input = MessageInput::new(input);
    decrypt_stream(
        materials_manager,
        options,
        options.signed_streaming,
        &mut input,
        &mut output,
    )
}

/// Decrypts a message held in memory. The plaintext is returned only once
/// the whole message, signature included, has verified, so this is the safe
/// way to read small signed messages.
pub fn decrypt_to_vec(
    materials_manager: &dyn MaterialsManager,
    options: &DecryptOptions,
    message: &[u8],
) -> Result<(Plaintext, MessageHeader), EnvelopeError> {
    let mut input = MessageInput::new(message);
    let mut plaintext = Zeroizing::new(Vec::new());
    let header = decrypt_stream(
        materials_manager,
        options,
        SignedStreaming::ReleaseBeforeSignature,
        &mut input,
        &mut *plaintext,
    )?;
    Ok((Plaintext(plaintext), header))
}

fn decrypt_stream<R: Read, W: Write>(
    materials_manager: &dyn MaterialsManager,
    options: &DecryptOptions,
    signed_streaming: SignedStreaming,
    input: &mut MessageInput<R>,
    output: &mut W,
) -> Result<MessageHeader, EnvelopeError> {
    let (decoded, serialized_header) = input.read_header(options.max_encrypted_data_keys)?;
    let DecodedHeader {
        header,
        authentication,
        body_len,
        ..
    } = decoded;
    let suite = header.suite;
    let policy = options.commitment_policy;
    if !policy.allows_decrypt(suite) {
        return Err(EnvelopeError::PolicyForbidsSuite {
            suite,
            policy,
            operation: "decrypt",
        });
    }
    if suite.is_signed() && signed_streaming == SignedStreaming::Refuse {
        return Err(EnvelopeError::SignedMessageNeedsOptIn);
    }
    // Checked on the unverified header only to refuse early (before any key
    // service call); a header that passes is then verified as a whole.
    check_expected_context(
        &header.encryption_context,
        &options.expected_encryption_context,
    )?;

    let materials = materials_manager.decrypt_materials(&DecryptMaterialsRequest {
        algorithm_suite: suite,
        commitment_policy: policy,
        encrypted_data_keys: &header.encrypted_data_keys,
        encryption_context: &header.encryption_context,
    })?;
    if materials.algorithm_suite() != suite {
        return Err(EnvelopeError::Internal(
            "materials for another algorithm suite",
        ));
    }
    let data_key = materials
        .plaintext_data_key()
        .ok_or(EnvelopeError::Internal("materials without a data key"))?;
    let keys = derive_message_keys(suite, data_key, &header.message_id)?;
    match (&keys.commitment, &header.commitment_key) {
        (Some(derived), Some(stored)) if commitment_matches(derived, stored) => {}
        (None, None) => {}
        _ => return Err(EnvelopeError::CommitmentMismatch),
    }
    let header_body = serialized_header
        .get(..body_len)
        .ok_or(EnvelopeError::Internal("header length"))?;
    keys.content
        .open_in_place_separate_tag(
            Nonce::assume_unique_for_key(authentication.iv),
            Aad::from(header_body),
            &authentication.tag,
            &mut [],
        )
        .map_err(|_| EnvelopeError::HeaderAuthenticationFailed)?;

    let mut hasher = match (suite.signature(), materials.verification_key()) {
        (Some(algorithm), Some(_)) => Some(MessageHasher::new(algorithm)),
        (None, None) => None,
        _ => {
            return Err(EnvelopeError::Internal(
                "verification key does not match the suite",
            ))
        }
    };
    if let Some(hasher) = hasher.as_mut() {
        hasher.update(&serialized_header);
    }

    let mut block = Zeroizing::new(Vec::new());
    let held = match header.content_type {
        ContentType::Framed => decrypt_frames(
            &header,
            &keys.content,
            input,
            &mut hasher,
            output,
            &mut block,
            options.threads(),
        )?,
        ContentType::NonFramed => {
            decrypt_non_framed(&header, &keys.content, input, &mut hasher, &mut block)?
        }
    };

    if let (Some(hasher), Some(verification_key)) = (hasher, materials.verification_key()) {
        let mut footer = Vec::new();
        input.read_exact_into(&mut footer, 2, MessageSection::Footer)?;
        let signature_len = footer
            .first_chunk::<2>()
            .map(|len| usize::from(u16::from_be_bytes(*len)))
            .ok_or(EnvelopeError::Truncated(MessageSection::Footer))?;
        input.read_exact_into(&mut footer, signature_len, MessageSection::Footer)?;
        let (signature, _) = body::decode_footer(&footer)?;
        verification_key.verify(&hasher.finish(), signature)?;
    }
    if !input.at_end()? {
        return Err(EnvelopeError::TrailingData);
    }
    let last = block
        .get(held)
        .ok_or(EnvelopeError::Internal("held plaintext"))?;
    output.write_all(last).map_err(EnvelopeError::OutputWrite)?;
    output.flush().map_err(EnvelopeError::OutputWrite)?;
    Ok(header)
}

/// Decrypts every frame, writing regular frames as they verify. Returns where
/// the final frame's plaintext sits in `block`, for the caller to write once
/// the rest of the message has been checked.
fn decrypt_frames<R: Read, W: Write>(
    header: &MessageHeader,
    key: &aws_lc_rs::aead::LessSafeKey,
    input: &mut MessageInput<R>,
    hasher: &mut Option<MessageHasher>,
    output: &mut W,
    block: &mut Vec<u8>,
    threads: usize,
) -> Result<std::ops::Range<usize>, EnvelopeError> {
    let frame_length = header.frame_length;
    let regular_len =
        usize::try_from(frame_length).map_err(|_| EnvelopeError::Internal("frame length"))?;
    let mut aad = Vec::with_capacity(128);
    let mut expected = 1u32;
    if regular_len <= parallel::BATCH_BYTES {
        expected = open_regular_frames(header, key, input, hasher, output, threads)?;
    }
    loop {
        block.clear();
        input.read_exact_into(block, 4, MessageSection::Body)?;
        let is_final = block
            .first_chunk::<4>()
            .map(|first| u32::from_be_bytes(*first))
            == Some(FINAL_FRAME_MARKER);
        if is_final {
            input.read_exact_into(block, FINAL_PREFIX_LEN - 4, MessageSection::Body)?;
            let content_length = block
                .get(FINAL_PREFIX_LEN - 4..FINAL_PREFIX_LEN)
                .and_then(|bytes| bytes.first_chunk::<4>())
                .map(|bytes| u32::from_be_bytes(*bytes))
                .ok_or(EnvelopeError::Truncated(MessageSection::Body))?;
            if content_length > frame_length {
                return Err(Malformation::FinalFrameTooLong {
                    length: content_length,
                    frame_length,
                }
                .into());
            }
            let content_len = usize::try_from(content_length)
                .map_err(|_| EnvelopeError::Internal("frame length"))?;
            input.read_exact_into(block, content_len + TAG_LEN, MessageSection::Body)?;
        } else {
            input.read_exact_into(block, IV_LEN + regular_len + TAG_LEN, MessageSection::Body)?;
        }
        let frame = body::decode_frame(block, frame_length)?;
        if frame.len != block.len() {
            return Err(EnvelopeError::Internal("frame length mismatch"));
        }
        let sequence_number = frame.fields.sequence_number;
        if sequence_number != expected {
            return Err(Malformation::FrameOutOfOrder {
                expected,
                found: sequence_number,
            }
            .into());
        }
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(block);
        }
        let content = block
            .get_mut(frame.content.clone())
            .ok_or(EnvelopeError::Internal("frame content"))?;
        open_content(
            key,
            &header.message_id,
            &frame.fields,
            content,
            &frame.tag,
            &mut aad,
        )?;
        if frame.fields.is_final {
            return Ok(frame.content);
        }
        output
            .write_all(content)
            .map_err(EnvelopeError::OutputWrite)?;
        // A regular frame never carries the marker, so this cannot overflow;
        // checked anyway.
        expected = expected
            .checked_add(1)
            .ok_or(Malformation::FrameOutOfOrder {
                expected,
                found: sequence_number,
            })?;
    }
}

/// Opens the regular frames at the start of the body, a batch of them per
/// read, and returns the sequence number of the next frame, the first one
/// it left unread: the final frame, or whatever cannot be a whole regular
/// frame (a truncated message), for the frame-by-frame loop to handle as it
/// always does.
///
/// Why batches: one large read per batch instead of two small ones per
/// frame, into a buffer the frames are opened in place in, so no byte is
/// copied twice (a `BufReader` in front of the input is bypassed by reads
/// larger than its buffer).
///
/// The calling thread reads each batch, checks its sequence numbers and
/// hashes it (before it is decrypted in place) in message order. With more
/// than one thread, workers open the batches (see `crate::parallel`);
/// otherwise the caller does. Each batch's plaintext is written once the
/// whole batch has verified, in order. A frame that fails stops the call
/// with its error, and nothing from it or after it is written.
fn open_regular_frames<R: Read, W: Write>(
    header: &MessageHeader,
    key: &aws_lc_rs::aead::LessSafeKey,
    input: &mut MessageInput<R>,
    hasher: &mut Option<MessageHasher>,
    output: &mut W,
    threads: usize,
) -> Result<u32, EnvelopeError> {
    let frame_length = header.frame_length;
    let regular_len =
        usize::try_from(frame_length).map_err(|_| EnvelopeError::Internal("frame length"))?;
    let frames_per_batch = (parallel::BATCH_BYTES / regular_len).max(1);
    let stride = body::REGULAR_PREFIX_LEN + regular_len + TAG_LEN;
    let message_id = header.message_id.as_slice();
    let work = |batch: &mut OpenBatch| batch.open(key, message_id, frame_length);
    let mut write = |batch: &OpenBatch| -> Result<(), EnvelopeError> {
        for content in batch.plaintexts() {
            output
                .write_all(content)
                .map_err(EnvelopeError::OutputWrite)?;
        }
        Ok(())
    };
    let mut expected = 1u32;
    // Reads the next batch and returns whether it is whole (all regular
    // frames, so more may follow).
    let mut next_batch = |batch: &mut OpenBatch| -> Result<bool, EnvelopeError> {
        let read = input.fill(&mut batch.bytes)?;
        batch.frames = 0;
        batch.first_sequence_number = expected;
        for serialized in batch
            .bytes
            .get(..read)
            .unwrap_or_default()
            .chunks_exact(stride)
        {
            let first = serialized
                .first_chunk::<4>()
                .map(|first| u32::from_be_bytes(*first))
                .ok_or(EnvelopeError::Truncated(MessageSection::Body))?;
            if first == FINAL_FRAME_MARKER {
                break;
            }
            if first != expected {
                return Err(Malformation::FrameOutOfOrder {
                    expected,
                    found: first,
                }
                .into());
            }
            if let Some(hasher) = hasher.as_mut() {
                hasher.update(serialized);
            }
            expected = expected
                .checked_add(1)
                .ok_or(Malformation::FrameOutOfOrder {
                    expected,
                    found: first,
                })?;
            batch.frames += 1;
        }
        let whole = batch.frames == frames_per_batch;
        if !whole {
            // The rest goes back to the input, for the frame-by-frame loop.
            let consumed = batch.frames * stride;
            input.unread(batch.bytes.get(consumed..read).unwrap_or_default());
        }
        Ok(whole)
    };

    std::thread::scope(|scope| {
        let mut workers = parallel::Workers::start(scope, threads, &work)?;
        let mut spare: Vec<OpenBatch> = Vec::new();
        loop {
            let mut batch = spare
                .pop()
                .unwrap_or_else(|| OpenBatch::new(frames_per_batch, regular_len));
            let whole = next_batch(&mut batch)?;
            if batch.frames > 0 {
                workers.submit(batch)?;
            }
            while let Some((done, result)) = workers.next_done(false)? {
                result?;
                write(&done)?;
                spare.push(done);
            }
            if !whole {
                break;
            }
        }
        while let Some((done, result)) = workers.next_done(true)? {
            result?;
            write(&done)?;
        }
        Ok::<(), EnvelopeError>(())
    })?;
    Ok(expected)
}

/// Regular frames as read from the message, back to back, opened in place.
struct OpenBatch {
    bytes: Zeroizing<Vec<u8>>,
    frame_length: usize,
    /// Frames in the batch, from the start.
    frames: usize,
    first_sequence_number: u32,
}

impl OpenBatch {
    fn new(capacity: usize, frame_length: usize) -> Self {
        OpenBatch {
            bytes: Zeroizing::new(vec![
                0;
                capacity
                    * (body::REGULAR_PREFIX_LEN
                        + frame_length
                        + TAG_LEN)
            ]),
            frame_length,
            frames: 0,
            first_sequence_number: 0,
        }
    }

    fn stride(&self) -> usize {
        body::REGULAR_PREFIX_LEN + self.frame_length + TAG_LEN
    }

    /// The opened frames' plaintexts, in order.
    fn plaintexts(&self) -> impl Iterator<Item = &[u8]> {
        let content = body::REGULAR_PREFIX_LEN..body::REGULAR_PREFIX_LEN + self.frame_length;
        self.bytes
            .chunks_exact(self.stride())
            .take(self.frames)
            .map(move |frame| frame.get(content.clone()).unwrap_or_default())
    }

    /// Opens every frame in place (on a worker thread). The IV written in
    /// each frame is used as is, as on the single-threaded path.
    fn open(
        &mut self,
        key: &aws_lc_rs::aead::LessSafeKey,
        message_id: &[u8],
        frame_length: u32,
    ) -> Result<(), EnvelopeError> {
        let stride = self.stride();
        let mut aad = Vec::with_capacity(128);
        let frames = self
            .bytes
            .chunks_exact_mut(stride)
            .take(self.frames)
            .zip(self.first_sequence_number..);
        for (serialized, sequence_number) in frames {
            let (prefix, rest) = serialized.split_at_mut(body::REGULAR_PREFIX_LEN);
            let (content, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
            let mut iv = [0u8; IV_LEN];
            iv.copy_from_slice(prefix.get(4..).unwrap_or_default());
            let mut tag_bytes = [0u8; TAG_LEN];
            tag_bytes.copy_from_slice(tag);
            let fields = body::FrameFields {
                sequence_number,
                is_final: false,
                iv,
                content_length: frame_length,
            };
            open_content(key, message_id, &fields, content, &tag_bytes, &mut aad)?;
        }
        Ok(())
    }
}

/// Opens `content` in place as the frame `fields` describes, checking `tag`.
fn open_content(
    key: &aws_lc_rs::aead::LessSafeKey,
    message_id: &[u8],
    fields: &body::FrameFields,
    content: &mut [u8],
    tag: &[u8; TAG_LEN],
    aad: &mut Vec<u8>,
) -> Result<(), EnvelopeError> {
    body::frame_aad(message_id, fields, aad);
    key.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(fields.iv),
        Aad::from(aad.as_slice()),
        tag,
        content,
    )
    .map_err(|_| EnvelopeError::FrameAuthenticationFailed {
        sequence_number: fields.sequence_number,
    })?;
    Ok(())
}

/// Decrypts a legacy non-framed body into `block`, returning where its
/// plaintext is. Its memory is the whole body (up to 64 GiB by the format):
/// non-framed messages can only be verified whole.
fn decrypt_non_framed<R: Read>(
    header: &MessageHeader,
    key: &aws_lc_rs::aead::LessSafeKey,
    input: &mut MessageInput<R>,
    hasher: &mut Option<MessageHasher>,
    block: &mut Vec<u8>,
) -> Result<std::ops::Range<usize>, EnvelopeError> {
    block.clear();
    input.read_exact_into(block, NON_FRAMED_PREFIX_LEN, MessageSection::Body)?;
    let content_length = block
        .get(IV_LEN..NON_FRAMED_PREFIX_LEN)
        .and_then(|bytes| bytes.first_chunk::<8>())
        .map(|bytes| u64::from_be_bytes(*bytes))
        .ok_or(EnvelopeError::Truncated(MessageSection::Body))?;
    if content_length > body::MAX_NON_FRAMED_LEN {
        return Err(Malformation::BodyTooLong.into());
    }
    let content_len = usize::try_from(content_length).map_err(|_| Malformation::BodyTooLong)?;
    input.read_exact_into(block, content_len + TAG_LEN, MessageSection::Body)?;
    let decoded = body::decode_non_framed(block)?;
    if let Some(hasher) = hasher.as_mut() {
        hasher.update(block);
    }
    let mut aad = Vec::new();
    body::body_aad(
        &header.message_id,
        BodyAadContent::SingleBlock,
        1,
        content_length,
        &mut aad,
    );
    let content = block
        .get_mut(decoded.content.clone())
        .ok_or(EnvelopeError::Internal("body content"))?;
    key.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(decoded.iv),
        Aad::from(aad.as_slice()),
        &decoded.tag,
        content,
    )
    .map_err(|_| EnvelopeError::FrameAuthenticationFailed { sequence_number: 1 })?;
    Ok(decoded.content)
}

fn check_expected_context(
    actual: &EncryptionContext,
    expected: &EncryptionContext,
) -> Result<(), EnvelopeError> {
    match expected
        .iter()
        .find(|(key, value)| actual.get(key) != Some(*value))
    {
        Some((key, _)) => Err(EnvelopeError::EncryptionContextMismatch {
            key: key.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The message being read: the reader, plus what was read past the header
/// while looking for its end.
struct MessageInput<R> {
    reader: R,
    pending: Vec<u8>,
    pending_pos: usize,
}

impl<R: Read> MessageInput<R> {
    fn new(reader: R) -> Self {
        MessageInput {
            reader,
            pending: Vec::new(),
            pending_pos: 0,
        }
    }

    /// Reads until a whole header parses, growing the read-ahead as needed.
    /// Returns the header and its serialized bytes.
    fn read_header(
        &mut self,
        max_encrypted_data_keys: Option<usize>,
    ) -> Result<(DecodedHeader, Vec<u8>), EnvelopeError> {
        loop {
            let unread = self.pending.get(self.pending_pos..).unwrap_or_default();
            match header::decode(unread, max_encrypted_data_keys) {
                Ok(decoded) => {
                    let serialized = unread.get(..decoded.total_len).unwrap_or_default().to_vec();
                    self.pending_pos += decoded.total_len;
                    return Ok((decoded, serialized));
                }
                Err(EnvelopeError::Truncated(MessageSection::Header)) => {
                    let want = HEADER_READ_CHUNK.max(self.pending.len());
                    if self.read_more(want)? == 0 {
                        return Err(EnvelopeError::Truncated(MessageSection::Header));
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// Appends up to `want` bytes from the reader to the read-ahead.
    fn read_more(&mut self, want: usize) -> Result<usize, EnvelopeError> {
        (&mut self.reader)
            .take(want as u64)
            .read_to_end(&mut self.pending)
            .map_err(EnvelopeError::InputRead)
    }

    /// Appends exactly `len` more message bytes to `out`. The buffer grows
    /// with the bytes actually read, so a length field cannot make it
    /// allocate more than the input holds.
    fn read_exact_into(
        &mut self,
        out: &mut Vec<u8>,
        len: usize,
        section: MessageSection,
    ) -> Result<(), EnvelopeError> {
        let unread = self.pending.get(self.pending_pos..).unwrap_or_default();
        let from_pending = unread.len().min(len);
        out.extend_from_slice(unread.get(..from_pending).unwrap_or_default());
        self.pending_pos += from_pending;
        if self.pending_pos == self.pending.len() && !self.pending.is_empty() {
            self.pending = Vec::new();
            self.pending_pos = 0;
        }
        let rest = len - from_pending;
        if rest > 0 {
            let read = (&mut self.reader)
                .take(rest as u64)
                .read_to_end(out)
                .map_err(EnvelopeError::InputRead)?;
            if read < rest {
                return Err(EnvelopeError::Truncated(section));
            }
        }
        Ok(())
    }

    /// Fills `out` from the message as far as it goes; returns how many
    /// bytes were read (fewer than `out.len()` only at the end of the input).
    fn fill(&mut self, out: &mut [u8]) -> Result<usize, EnvelopeError> {
        let unread = self.pending.get(self.pending_pos..).unwrap_or_default();
        let from_pending = unread.len().min(out.len());
        out.get_mut(..from_pending)
            .zip(unread.get(..from_pending))
            .map(|(to, from)| to.copy_from_slice(from))
            .ok_or(EnvelopeError::Internal("read-ahead"))?;
        self.pending_pos += from_pending;
        let mut filled = from_pending;
        while let Some(room) = out.get_mut(filled..).filter(|room| !room.is_empty()) {
            match self.reader.read(room) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(EnvelopeError::InputRead(error)),
            }
        }
        Ok(filled)
    }

    /// Puts `bytes` back in front of what is still unread.
    fn unread(&mut self, bytes: &[u8]) {
        let rest = self.pending.get(self.pending_pos..).unwrap_or_default();
        let mut pending = Vec::with_capacity(bytes.len() + rest.len());
        pending.extend_from_slice(bytes);
        pending.extend_from_slice(rest);
        self.pending = pending;
        self.pending_pos = 0;
    }

    /// Whether the input is exhausted.
    fn at_end(&mut self) -> Result<bool, EnvelopeError> {
        if self.pending_pos < self.pending.len() {
            return Ok(false);
        }
        let mut probe = [0u8; 1];
        loop {
            match self.reader.read(&mut probe) {
                Ok(read) => return Ok(read == 0),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(EnvelopeError::InputRead(error)),
            }
        }
    }
}
