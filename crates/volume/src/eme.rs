//! EME (ECB-Mix-ECB), the tweakable wide-block mode gocryptfs encrypts file
//! names with: Halevi and Rogaway, "A Parallelizable Enciphering Mode"
//! (CT-RSA 2004, eprint 2003/147), with the GF(2^128) doubling of the IEEE
//! P1619.2 EME-32 draft, as implemented by github.com/rfjakob/eme (read for
//! behaviour). The same name under the same directory IV always encrypts to
//! the same ciphertext, which is what lets a lookup find a file by name.
//!
//! Input is 1 to 128 AES blocks. The L table is always computed with the
//! forward cipher, also when deciphering.

use aes_gcm::aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};
use aes_gcm::aes::{Aes256, Block};

use crate::VolumeFormatError;

const BLOCK: usize = 16;
pub(crate) const MAX_BLOCKS: usize = 128;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Encrypt,
    Decrypt,
}

/// Transforms `data` in place under `tweak`.
pub(crate) fn transform(
    aes: &Aes256,
    tweak: &[u8; BLOCK],
    data: &mut [u8],
    direction: Direction,
) -> Result<(), VolumeFormatError> {
    let n_blocks = data.len() / BLOCK;
    if !data.len().is_multiple_of(BLOCK) || n_blocks == 0 || n_blocks > MAX_BLOCKS {
        return Err(VolumeFormatError::NameLength(data.len()));
    }
    let cipher = |block: &mut [u8; BLOCK]| {
        let mut b = Block::from(*block);
        match direction {
            Direction::Encrypt => aes.encrypt_block(&mut b),
            Direction::Decrypt => aes.decrypt_block(&mut b),
        }
        block.copy_from_slice(&b);
    };

    // L_j = 2^(j+1) * AES-enc(K, 0) for j = 0..m.
    let mut l_table = [[0u8; BLOCK]; MAX_BLOCKS];
    let mut l = {
        let mut zero = Block::default();
        aes.encrypt_block(&mut zero);
        let mut out = [0u8; BLOCK];
        out.copy_from_slice(&zero);
        out
    };
    for entry in l_table.iter_mut().take(n_blocks) {
        l = times_two(&l);
        *entry = l;
    }

    // PPP_j = E(P_j xor L_j), kept in `data`; MP = xor of all PPP_j, xor T.
    let mut mp = *tweak;
    for (chunk, l_j) in data.chunks_exact_mut(BLOCK).zip(l_table.iter()) {
        let mut block = to_block(chunk);
        xor_into(&mut block, l_j);
        cipher(&mut block);
        chunk.copy_from_slice(&block);
        xor_into(&mut mp, &block);
    }

    // MC = E(MP); M = MP xor MC.
    let mut mc = mp;
    cipher(&mut mc);
    let mut m = mp;
    xor_into(&mut m, &mc);

    // CCC_j = PPP_j xor 2^(j-1) M for j >= 2; CCC_1 = MC xor T xor (xor of CCC_j).
    let mut ccc_1 = mc;
    xor_into(&mut ccc_1, tweak);
    for chunk in data.chunks_exact_mut(BLOCK).skip(1) {
        m = times_two(&m);
        let mut block = to_block(chunk);
        xor_into(&mut block, &m);
        chunk.copy_from_slice(&block);
        xor_into(&mut ccc_1, &block);
    }
    if let Some(first) = data.get_mut(..BLOCK) {
        first.copy_from_slice(&ccc_1);
    }

    // C_j = E(CCC_j) xor L_j.
    for (chunk, l_j) in data.chunks_exact_mut(BLOCK).zip(l_table.iter()) {
        let mut block = to_block(chunk);
        cipher(&mut block);
        xor_into(&mut block, l_j);
        chunk.copy_from_slice(&block);
    }
    Ok(())
}

fn to_block(chunk: &[u8]) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block.copy_from_slice(chunk);
    block
}

fn xor_into(target: &mut [u8; BLOCK], other: &[u8; BLOCK]) {
    for (t, o) in target.iter_mut().zip(other) {
        *t ^= o;
    }
}

/// Doubling in GF(2^128) with the byte order of the EME-32 draft: byte 0 is
/// the least significant, and the carry out of byte 15 folds back as 135.
fn times_two(input: &[u8; BLOCK]) -> [u8; BLOCK] {
    let mut out = [0u8; BLOCK];
    out[0] = input[0] << 1;
    if input[15] >= 128 {
        out[0] ^= 135;
    }
    for j in 1..BLOCK {
        out[j] = (input[j] << 1) | (input[j - 1] >> 7);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aes::cipher::KeyInit;
    use proptest::prelude::*;

    fn run(key: [u8; 32], tweak: [u8; 16], input: &[u8], direction: Direction) -> Vec<u8> {
        let aes = Aes256::new(&key.into());
        let mut data = input.to_vec();
        transform(&aes, &tweak, &mut data, direction).unwrap();
        data
    }

    // IEEE P1619 EME-32 test vector: all-zero AES-256 key, all-zero tweak,
    // 512 zero bytes (grouper.ieee.org/groups/1619/email/pdf00020.pdf, as
    // quoted in rfjakob/eme's eme32_test.go).
    const EME32_ZERO_512: &str = "9f2e6c3daecae79e8839b0588ff378cd0668970b95691cb00182b9e34cd658ed\
        3c9c276838cc5e1411fcb8cf3da1c0f30875804c9df51157b0791100d2551334\
        834cf4024f6b718fbc7daba07d14eb7cbc79c261b1eb036d0c9f85b914385840\
        727284005f06a9c1627c0b7fb12a1f81fa83c4b035db006cce846d0756db9fb2\
        448ee5628d2376ee13954213db3dca725f2c67950eaf2cdac8a27a0433a14c96\
        927d9145dd93e0b46e670f6c4db8add014b8880efb9a97bec5cd05bba43dcc35\
        058045ae8168df6e67779198fcc72808ce29c7b5aefdbc9e3ee65117283bfa2e\
        195f82ce1962dd8112cb57e8040d776733d3bb331ea6300f91dee0cbeb2fc9af\
        d341f5515e22371e442b86e70287546a166ec2aef89f291be62afc2a96891e44\
        6ef6f162735574d10cff4a183de2760b5e145deaad3efde1da4b2836c665c5ec\
        4b54cb989d277311c42db4862db2920c3942958e54f64e365e52190ed81a02d7\
        3bf78a8ae5cc83e03203ef421614b79ae984b67ee93483d5eb1ea7b4fd954cc3\
        5059bd4d932ef34271825045d73effef2ed3489871fda2cc73924b4d459d1c6e\
        e525421e0550d3ab876f615395ac4a54d20478a442d85c9a3c9c7fa148f2b9dc\
        adaa83cf40e9e464da6036a55cdb873b50c1060ecc27b48dc0afc76ef73f1489\
        281c08efce7fec47edd823f2f562b333ac209c2cd3cc577c28eedaafcedd89a6";

    #[test]
    fn eme32_known_answer() {
        let out = run([0; 32], [0; 16], &[0u8; 512], Direction::Encrypt);
        assert_eq!(hex::encode(&out), EME32_ZERO_512);
        let back = run([0; 32], [0; 16], &out, Direction::Decrypt);
        assert_eq!(back, vec![0u8; 512]);
    }

    #[test]
    fn lengths_outside_1_to_128_blocks_are_refused() {
        let aes = Aes256::new(&[0u8; 32].into());
        for len in [0usize, 15, 17, 2064] {
            let mut data = vec![0u8; len];
            assert_eq!(
                transform(&aes, &[0; 16], &mut data, Direction::Encrypt).unwrap_err(),
                VolumeFormatError::NameLength(len)
            );
        }
    }

    proptest! {
        #[test]
        fn decrypt_inverts_encrypt(
            key in any::<[u8; 32]>(),
            tweak in any::<[u8; 16]>(),
            n_blocks in 1usize..20,
            seed in any::<u8>(),
        ) {
            let input: Vec<u8> = (0..n_blocks * 16).map(|i| (i as u8).wrapping_mul(seed)).collect();
            let out = run(key, tweak, &input, Direction::Encrypt);
            prop_assert_ne!(&out, &input);
            prop_assert_eq!(run(key, tweak, &out, Direction::Decrypt), input);
        }
    }
}
