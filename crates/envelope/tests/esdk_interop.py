#!/usr/bin/env python3
"""The AWS Encryption SDK for Python as an interop peer for keyward-envelope.

Encrypts or decrypts a file with a raw AES wrapping key, using the SDK's
RawMasterKey (the same encrypted data key format as the raw AES keyring).
Driven by tests/esdk_interop.rs; needs `pip install -r requirements.txt`.

    esdk_interop.py encrypt --key HEX --namespace NS --name NAME \
        --suite 0x0578 --frame-length 4096 [--context k=v ...] IN OUT
    esdk_interop.py decrypt --key HEX --namespace NS --name NAME \
        [--context k=v ...] IN OUT
    esdk_interop.py version
    esdk_interop.py make-vectors OUTDIR

`make-vectors` writes the known-answer messages of tests/vectors/ (see
tests/message/vectors.rs): one per ESDK suite, plus a non-framed one.

`decrypt` reads any suite (commitment policy REQUIRE_ENCRYPT_ALLOW_DECRYPT)
and, given --context, checks that each pair is in the message's context.
`encrypt` uses FORBID_ENCRYPT_ALLOW_DECRYPT for non-committing suites.
Exit status 0 on success; any failure prints the SDK's error and exits 1.
"""

import argparse
import sys

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import (
    Algorithm,
    CommitmentPolicy,
    EncryptionKeyType,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider

WRAPPING = {
    16: WrappingAlgorithm.AES_128_GCM_IV12_TAG16_NO_PADDING,
    24: WrappingAlgorithm.AES_192_GCM_IV12_TAG16_NO_PADDING,
    32: WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
}

CHUNK = 1 << 16


def provider(namespace, name, key):
    """A master key provider holding one raw AES key."""

    class StaticRawProvider(RawMasterKeyProvider):
        provider_id = namespace

        def _get_raw_key(self, key_id):
            return WrappingKey(
                wrapping_algorithm=WRAPPING[len(key)],
                wrapping_key=key,
                wrapping_key_type=EncryptionKeyType.SYMMETRIC,
            )

    result = StaticRawProvider()
    result.add_master_key(name.encode("utf-8"))
    return result


def parse_context(pairs):
    context = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        context[key] = value
    return context


def copy_stream(stream, output):
    for chunk in stream:
        output.write(chunk)


def encrypt(args):
    suite = Algorithm.get_by_id(int(args.suite, 0))
    policy = (
        CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        if suite.is_committing()
        else CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    )
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy)
    keys = provider(args.namespace, args.name, bytes.fromhex(args.key))
    with open(args.input, "rb") as source, open(args.output, "wb") as output:
        with client.stream(
            mode="e",
            source=source,
            key_provider=keys,
            algorithm=suite,
            frame_length=args.frame_length,
            encryption_context=parse_context(args.context),
        ) as stream:
            copy_stream(stream, output)


def decrypt(args):
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT
    )
    keys = provider(args.namespace, args.name, bytes.fromhex(args.key))
    with open(args.input, "rb") as source, open(args.output, "wb") as output:
        with client.stream(mode="d", source=source, key_provider=keys) as stream:
            copy_stream(stream, output)
            context = stream.header.encryption_context
    for key, value in parse_context(args.context).items():
        if context.get(key) != value:
            raise SystemExit("encryption context mismatch on %r: %r" % (key, context.get(key)))


VECTOR_KEY = bytes(range(32))
VECTOR_NAMESPACE = "keyward-vectors"
VECTOR_NAME = "aes-256"
VECTOR_CONTEXT = {"purpose": "known-answer", "origin": "aws-encryption-sdk-python"}


def vector_plaintext():
    return bytes(i % 251 for i in range(300))


def make_vectors(args):
    import os

    keys = provider(VECTOR_NAMESPACE, VECTOR_NAME, VECTOR_KEY)
    cases = [(suite, 128) for suite in Algorithm] + [(Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA256, 0)]
    for suite, frame_length in cases:
        policy = (
            CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
            if suite.is_committing()
            else CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
        )
        client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy)
        ciphertext, _ = client.encrypt(
            source=vector_plaintext(),
            key_provider=keys,
            algorithm=suite,
            frame_length=frame_length,
            encryption_context=VECTOR_CONTEXT,
        )
        kind = "framed" if frame_length else "nonframed"
        path = os.path.join(args.outdir, "%04x-%s.bin" % (suite.algorithm_id, kind))
        with open(path, "wb") as output:
            output.write(ciphertext)
        print(path, len(ciphertext))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("version")
    commands.add_parser("make-vectors").add_argument("outdir")
    for name in ("encrypt", "decrypt"):
        command = commands.add_parser(name)
        command.add_argument("--key", required=True, help="wrapping key, hex")
        command.add_argument("--namespace", required=True)
        command.add_argument("--name", required=True)
        command.add_argument("--context", action="append", help="k=v, repeatable")
        command.add_argument("input")
        command.add_argument("output")
        if name == "encrypt":
            command.add_argument("--suite", default="0x0578")
            command.add_argument("--frame-length", type=int, default=4096)
    args = parser.parse_args()
    if args.command == "version":
        print(aws_encryption_sdk.__version__)
        return
    try:
        {"encrypt": encrypt, "decrypt": decrypt, "make-vectors": make_vectors}[args.command](args)
    except Exception as error:  # pylint: disable=broad-except
        print("%s: %s" % (type(error).__name__, error), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
