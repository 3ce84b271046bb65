//! Encrypted volumes used by real processes, checked against Debian's
//! gocryptfs. These tests need root and /dev/fuse (CI has both) and fail,
//! not skip, without them; `.ci/run` installs gocryptfs, fuse3 and sqlite3.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use keyward_workload::{init_backing_dir, MasterKey, MountOptions, MountedVolume, VolumeFs};

const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

struct Volume {
    dir: tempfile::TempDir,
    key: [u8; 32],
    mounted: Option<MountedVolume>,
}

impl Volume {
    fn new(seed: u8) -> Volume {
        let dir = tempfile::tempdir().unwrap();
        let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(seed));
        let volume = Volume {
            dir,
            key,
            mounted: None,
        };
        fs::create_dir(volume.mnt()).unwrap();
        init_backing_dir(&volume.backing()).unwrap();
        volume
    }

    fn backing(&self) -> PathBuf {
        self.dir.path().join("backing")
    }

    fn mnt(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    fn key_hex(&self) -> String {
        hex::encode(self.key)
    }

    fn mount(&mut self) -> &Path {
        let mounted = VolumeFs::mount(
            &self.backing(),
            &self.mnt(),
            MasterKey::from_bytes(self.key),
            &MountOptions::default(),
        )
        .unwrap_or_else(|error| {
            panic!("mounting a volume (CI must have root and /dev/fuse): {error:#?}")
        });
        // fuser returns once the kernel's INIT is answered: already mounted.
        assert_eq!(statfs_type(&self.mnt()), FUSE_SUPER_MAGIC);
        self.mounted = Some(mounted);
        self.mounted.as_ref().unwrap().mountpoint()
    }

    fn unmount(&mut self) {
        if let Some(mounted) = self.mounted.take() {
            mounted.unmount().unwrap();
        }
        assert_ne!(statfs_type(&self.mnt()), FUSE_SUPER_MAGIC);
    }
}

fn statfs_type(path: &Path) -> i64 {
    rustix::fs::statfs(path).unwrap().f_type as i64
}

/// Runs a command and fails with everything it printed if it fails.
fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{command:?} exited {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

fn sh(dir: &Path, script: &str) -> Output {
    run(Command::new("sh").arg("-euc").arg(script).current_dir(dir))
}

fn python(dir: &Path, script: &str) -> Output {
    run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir))
}

/// Every byte of every backing file, name and symlink target.
fn backing_bytes(root: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            out.extend_from_slice(entry.file_name().as_encoded_bytes());
            out.push(b'\n');
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_symlink() {
                out.extend_from_slice(
                    fs::read_link(entry.path())
                        .unwrap()
                        .as_os_str()
                        .as_encoded_bytes(),
                );
            } else {
                out.extend(fs::read(entry.path()).unwrap());
            }
            out.push(b'\n');
        }
    }
    out
}

/// The forms a secret could leak in: raw, hex, and base64 at each of the
/// three byte alignments (standard and URL alphabets).
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
    ];
    for shift in 0..3 {
        let tail = &secret[shift..];
        // Drop the last, alignment-dependent characters.
        for encoded in [STANDARD.encode(tail), URL_SAFE_NO_PAD.encode(tail)] {
            let keep = (tail.len() / 3) * 4;
            forms.push(encoded.as_bytes()[..keep.min(encoded.len())].to_vec());
        }
    }
    forms
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn gocryptfs_mount(volume: &Volume, mnt: &Path) {
    fs::create_dir_all(mnt).unwrap();
    run(Command::new("gocryptfs")
        .arg("-q")
        .arg(format!("-masterkey={}", volume.key_hex()))
        .arg(volume.backing())
        .arg(mnt));
}

fn fusermount_u(mnt: &Path) {
    run(Command::new("fusermount3").arg("-u").arg(mnt));
}

const SHELL_WORKOUT: &str = r#"
printf 'hello volume\n' > hello.txt
test "$(cat hello.txt)" = "hello volume"
printf 'more\n' >> hello.txt
test "$(wc -l < hello.txt)" = 2
truncate -s 5 hello.txt
test "$(cat hello.txt)" = "hello"
truncate -s 9000 hello.txt
test "$(stat -c %s hello.txt)" = 9000
test "$(head -c 5 hello.txt)" = "hello"
test "$(tail -c +6 hello.txt | tr -d '\0' | wc -c)" = 0
mkdir -p a/b/c
echo deep > a/b/c/file
mv a/b a/renamed
test "$(cat a/renamed/c/file)" = deep
ln a/renamed/c/file hard
test "$(stat -c %h hard)" = 2
echo changed > hard
test "$(cat a/renamed/c/file)" = changed
rm a/renamed/c/file
test "$(cat hard)" = changed
ln -s a/renamed/c target-link
test "$(readlink target-link)" = "a/renamed/c"
echo via-link > target-link/new
test "$(cat a/renamed/c/new)" = via-link
chmod 600 hard
test "$(stat -c %a hard)" = 600
chown 65534:65534 hard
test "$(stat -c %u:%g hard)" = 65534:65534
touch -d '2001-02-03 04:05:06 UTC' hard
test "$(stat -c %Y hard)" = 981173106
rmdir a/renamed/c 2>/dev/null && exit 1
rm a/renamed/c/new
rmdir a/renamed/c
test ! -e a/renamed/c
mkdir empty-target
mkdir moved-dir && mv -T moved-dir empty-target
LONG=$(printf 'L%.0s' $(seq 1 200))
echo long-name > "$LONG"
test "$(cat "$LONG")" = long-name
mv "$LONG" "${LONG}2"
test "$(ls | grep -c LLLL)" = 1
mkdir "d$LONG"
rmdir "d$LONG"
dd if=/dev/urandom of=big bs=1M count=24 status=none
sync
cmp big big
head -c 100000000 /dev/zero | tail -c 1 > /dev/null
truncate -s 2G sparse
printf end >> sparse
test "$(stat -c %s sparse)" = 2147483651
test "$(tail -c 3 sparse)" = end
test "$(stat -c %b sparse)" -lt 1000
df . > /dev/null
test "$(stat -f -c %T .)" = fuseblk || test "$(stat -f -c %T .)" = fuse
"#;

#[test]
fn a_shell_uses_the_volume_as_an_ordinary_directory() {
    let mut volume = Volume::new(1);
    let mnt = volume.mount().to_path_buf();
    sh(&mnt, SHELL_WORKOUT);
    // The same bytes after a remount, read through a fresh kernel cache.
    let big = fs::read(mnt.join("big")).unwrap();
    volume.unmount();
    let mnt = volume.mount().to_path_buf();
    assert_eq!(fs::read(mnt.join("big")).unwrap(), big);
    assert_eq!(fs::read_to_string(mnt.join("hard")).unwrap(), "changed\n");
    assert_eq!(
        fs::metadata(mnt.join("hard")).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(fs::metadata(mnt.join("hard")).unwrap().uid(), 65534);
    volume.unmount();
}

const RANDOM_IO: &str = r#"
import os, random, threading
rng = random.Random(7)
size = 3 * 1024 * 1024
model = bytearray(size)
with open("random.bin", "wb") as f:
    f.write(model)
fd = os.open("random.bin", os.O_RDWR)
for i in range(3000):
    off = rng.randrange(0, size)
    n = rng.choice([1, 7, 512, 4095, 4096, 4097, 10000, 70000])
    data = rng.randbytes(n)
    os.pwrite(fd, data, off)
    end = off + n
    if end > len(model):
        model.extend(bytes(end - len(model)))
    model[off:end] = data
    if i % 97 == 0:
        os.fsync(fd)
    if i % 13 == 0:
        roff = rng.randrange(0, len(model))
        assert os.pread(fd, 9000, roff) == bytes(model[roff:roff + 9000]), i
os.ftruncate(fd, 1234567)
del model[1234567:]
os.fdatasync(fd)
os.close(fd)
with open("random.bin", "rb") as f:
    assert f.read() == bytes(model)

# O_APPEND from several writers, and readers at the same time.
def appender(tag):
    fd = os.open("log.txt", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for i in range(300):
        os.write(fd, f"{tag}:{i:05d}\n".encode())
    os.close(fd)
threads = [threading.Thread(target=appender, args=(t,)) for t in "abcd"]
for t in threads: t.start()
for t in threads: t.join()
lines = open("log.txt").read().splitlines()
assert len(lines) == 1200, len(lines)
for tag in "abcd":
    mine = [l for l in lines if l.startswith(tag + ":")]
    assert mine == [f"{tag}:{i:05d}" for i in range(300)]

# Disjoint writers and checking readers on one file.
block = 64 * 1024
with open("shared.bin", "wb") as f:
    f.truncate(8 * block)
def writer(k):
    fd = os.open("shared.bin", os.O_RDWR)
    for r in range(20):
        os.pwrite(fd, bytes([k * 20 + r]) * block, k * block)
        got = os.pread(fd, block, k * block)
        assert got == bytes([k * 20 + r]) * block
    os.close(fd)
threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
data = open("shared.bin", "rb").read()
for k in range(8):
    assert data[k * block:(k + 1) * block] == bytes([k * 20 + 19]) * block
print("ok")
"#;

const SQLITE: &str = r#"
import sqlite3, random
db = sqlite3.connect("app.db")
db.execute("PRAGMA journal_mode=WAL")
db.execute("create table t (id integer primary key, v text, b blob)")
rng = random.Random(1)
for batch in range(20):
    with db:
        db.executemany("insert into t (v, b) values (?, ?)",
                       [(f"row-{batch}-{i}", rng.randbytes(rng.randrange(10, 3000))) for i in range(250)])
with db:
    db.execute("update t set v = v || '-x' where id % 3 = 0")
    db.execute("delete from t where id % 7 = 0")
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
count = db.execute("select count(*) from t").fetchone()[0]
db.close()
db = sqlite3.connect("app.db")
assert db.execute("select count(*) from t").fetchone()[0] == count
assert db.execute("select v from t where id = 3").fetchone()[0] == "row-0-2-x"
db.execute("VACUUM")
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
db.close()
print(count)
"#;

#[test]
fn random_writes_appends_concurrency_and_sqlite() {
    let mut volume = Volume::new(2);
    let mnt = volume.mount().to_path_buf();
    let out = python(&mnt, RANDOM_IO);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let out = python(&mnt, SQLITE);
    let rows: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(rows, 5000 - 5000 / 7);
    volume.unmount();
    // gocryptfs sees a consistent database too.
    let other = volume.dir.path().join("gocryptfs-mnt");
    gocryptfs_mount(&volume, &other);
    let check = python(
        &other,
        "import sqlite3; print(sqlite3.connect('app.db').execute('PRAGMA integrity_check').fetchone()[0])",
    );
    fusermount_u(&other);
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
}

#[test]
fn the_backing_directory_holds_no_plaintext_and_no_key() {
    let mut volume = Volume::new(3);
    let mnt = volume.mount().to_path_buf();
    let secret = b"Attack at dawn: the launch code is 0xDEADBEEF-7734, keep it secret!";
    let name = "quarterly-results-confidential.txt";
    fs::write(mnt.join(name), secret.repeat(300)).unwrap();
    fs::create_dir(mnt.join("payroll-directory")).unwrap();
    std::os::unix::fs::symlink(
        "secret-symlink-destination",
        mnt.join("payroll-directory/link"),
    )
    .unwrap();
    python(
        &mnt,
        "import sqlite3; db = sqlite3.connect('customers.db'); \
         db.execute('create table c (name text)'); \
         db.execute(\"insert into c values ('Attack at dawn: the launch code is 0xDEADBEEF-7734')\"); \
         db.commit()",
    );
    volume.unmount();
    let raw = backing_bytes(&volume.backing());
    for needle in [
        &secret[..40],
        name.as_bytes(),
        b"payroll-directory",
        b"secret-symlink-destination",
        b"customers",
        b"SQLite format 3",
    ] {
        for form in encodings(needle) {
            assert!(
                !contains(&raw, &form),
                "backing directory leaks {:?}",
                String::from_utf8_lossy(needle)
            );
        }
    }
    for form in encodings(&volume.key) {
        assert!(
            !contains(&raw, &form),
            "backing directory holds the master key"
        );
    }
}

#[test]
fn gocryptfs_reads_our_volume_and_we_read_gocryptfs_writes() {
    let mut volume = Volume::new(4);
    let mnt = volume.mount().to_path_buf();
    let long_name = "n".repeat(220);
    sh(
        &mnt,
        &format!(
            "mkdir -p dir/sub && printf 'ours\\n' > dir/sub/file && \
             head -c 300000 /dev/urandom > random.bin && \
             printf long > {long_name} && ln -s dir/sub/file link && ln random.bin hardlink && \
             truncate -s 100000 sparse && printf x >> sparse && mkdir emptydir"
        ),
    );
    let random = fs::read(mnt.join("random.bin")).unwrap();
    volume.unmount();

    // gocryptfs' own checker reads every file, name and link through its FUSE
    // mount and exits 0 only when nothing is corrupt.
    run(Command::new("gocryptfs")
        .arg("-fsck")
        .arg(format!("-masterkey={}", volume.key_hex()))
        .arg(volume.backing()));

    let other = volume.dir.path().join("gocryptfs-mnt");
    gocryptfs_mount(&volume, &other);
    let result = std::panic::catch_unwind(|| {
        assert_eq!(
            fs::read_to_string(other.join("dir/sub/file")).unwrap(),
            "ours\n"
        );
        assert_eq!(fs::read(other.join("random.bin")).unwrap(), random);
        assert_eq!(fs::read_to_string(other.join(&long_name)).unwrap(), "long");
        assert_eq!(
            fs::read_link(other.join("link")).unwrap(),
            Path::new("dir/sub/file")
        );
        let sparse = fs::read(other.join("sparse")).unwrap();
        assert_eq!(sparse.len(), 100_001);
        assert!(sparse[..100_000].iter().all(|b| *b == 0));
        assert!(other.join("emptydir").is_dir());
        // Now gocryptfs writes, and we read.
        sh(
            &other,
            &format!(
                "printf theirs > dir/theirs && mkdir -p g/h && head -c 123457 /dev/urandom > g/h/blob && \
                 printf 'appended' >> dir/sub/file && ln -s ../g/h/blob dir/blob-link && \
                 printf their-long > {long_name}-2 && truncate -s 7 random.bin"
            ),
        );
    });
    let blob = fs::read(other.join("g/h/blob"));
    fusermount_u(&other);
    result.unwrap();
    let blob = blob.unwrap();

    let mnt = volume.mount().to_path_buf();
    assert_eq!(
        fs::read_to_string(mnt.join("dir/theirs")).unwrap(),
        "theirs"
    );
    assert_eq!(fs::read(mnt.join("g/h/blob")).unwrap(), blob);
    assert_eq!(
        fs::read_to_string(mnt.join("dir/sub/file")).unwrap(),
        "ours\nappended"
    );
    assert_eq!(fs::read(mnt.join("dir/blob-link")).unwrap(), blob);
    assert_eq!(
        fs::read_to_string(mnt.join(format!("{long_name}-2"))).unwrap(),
        "their-long"
    );
    assert_eq!(fs::read(mnt.join("random.bin")).unwrap(), &random[..7]);
    let mut names: Vec<_> = fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    volume.unmount();
}

#[test]
fn a_flipped_byte_gives_eio_and_fsck_reports_it() {
    let mut volume = Volume::new(5);
    let mnt = volume.mount().to_path_buf();
    let content: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    fs::File::create(mnt.join("victim"))
        .unwrap()
        .write_all(&content)
        .unwrap();
    fs::write(mnt.join("bystander"), b"fine").unwrap();
    volume.unmount();

    // Find the victim's backing file: the one of 18 + 4*4128 + 3616+32 bytes.
    let backing_len = keyward_volume::cipher_size(content.len() as u64).unwrap();
    let victim = fs::read_dir(volume.backing())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| fs::metadata(p).unwrap().len() == backing_len)
        .unwrap();
    let mut bytes = fs::read(&victim).unwrap();
    bytes[18 + 4128 + 100] ^= 0x01; // inside block 1's ciphertext
    fs::write(&victim, &bytes).unwrap();

    let fsck = Command::new("gocryptfs")
        .arg("-fsck")
        .arg(format!("-masterkey={}", volume.key_hex()))
        .arg(volume.backing())
        .output()
        .unwrap();
    assert!(
        !fsck.status.success(),
        "gocryptfs -fsck missed the corruption"
    );
    assert_eq!(
        fsck.status.code(),
        Some(26),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );

    let mnt = volume.mount().to_path_buf();
    // Block 0 still reads. A read that starts in block 1 fails with EIO; one
    // that starts before it stops short at its start (POSIX: the bytes read
    // before the error), so no byte of the corrupt block ever comes back.
    let out = python(
        &mnt,
        "import os, errno\n\
         fd = os.open('victim', os.O_RDONLY)\n\
         good = bytes(i % 253 for i in range(4096))\n\
         assert os.pread(fd, 4096, 0) == good\n\
         assert os.pread(fd, 20000, 0) == good\n\
         for off, n in [(4096, 10), (8000, 200), (4096, 20000)]:\n\
         \x20   try:\n\
         \x20       os.pread(fd, n, off)\n\
         \x20       raise SystemExit(f'read at {off} returned data')\n\
         \x20   except OSError as e:\n\
         \x20       assert e.errno == errno.EIO, e\n\
         try:\n\
         \x20   open('victim', 'rb').read()\n\
         \x20   raise SystemExit('whole read returned data')\n\
         except OSError as e:\n\
         \x20   assert e.errno == errno.EIO, e\n\
         print('eio')",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "eio");
    assert_eq!(fs::read(mnt.join("bystander")).unwrap(), b"fine");
    volume.unmount();
}

#[test]
fn another_user_gets_ordinary_permissions() {
    let mut volume = Volume::new(6);
    // tempfile makes its directory 0700; the other user must reach the mount.
    fs::set_permissions(volume.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let mnt = volume.mount().to_path_buf();
    sh(
        &mnt,
        "mkdir shared && chown 65534:65534 shared && \
         printf root-only > private && chmod 600 private && printf public > public",
    );
    let as_nobody = |script: &str| {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "sh",
                "-c",
                script,
            ])
            .current_dir(&mnt)
            .output()
            .unwrap()
    };
    let out = as_nobody(
        "cat public && echo mine > shared/file && cat shared/file && stat -c %u:%g shared/file",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "publicmine\n65534:65534\n"
    );
    let denied = as_nobody("cat private");
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("Permission denied"));
    let denied = as_nobody("echo x > new-in-root");
    assert!(!denied.status.success());
    assert!(!mnt.join("new-in-root").exists());
    volume.unmount();
}
