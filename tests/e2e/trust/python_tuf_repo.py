"""A TUF repository written by python-tuf's Metadata API (an implementation
independent of sigil's client), in stages a mirror serves one after another.

usage: python3 python_tuf_repo.py OUT FIRST_TRUSTED_ROOT SECOND_TRUSTED_ROOT SIGNING_CONFIG

OUT/a  root 1; timestamp, snapshot, targets 1 (targets: FIRST_TRUSTED_ROOT, SIGNING_CONFIG)
OUT/b  a + root 2 (root key rotated, signed by the old and the new key); metadata 2
       (targets: SECOND_TRUSTED_ROOT)
OUT/c  b + root 3 signed only by its own new key (must be refused)
OUT/d  b + metadata 3 pinning a third trusted root whose served bytes differ (must be refused)
OUT/e  b with the timestamp of a (a rollback, must be refused)
"""

import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import MetaFile, Metadata, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

out = Path(sys.argv[1])
first_root = Path(sys.argv[2]).read_bytes()
second_root = Path(sys.argv[3]).read_bytes()
signing_config = Path(sys.argv[4]).read_bytes()
expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=7)
pretty = JSONSerializer(compact=False)
signers = {role: CryptoSigner.generate_ed25519() for role in ["root", "timestamp", "snapshot", "targets"]}


def write(stage, name, data):
    path = out / stage / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def publish(stage, version, trusted_root, served=None):
    """timestamp, snapshot and targets at `version`, and the targets' files."""
    targets = Metadata(Targets(version=version, expires=expires))
    for name, data in [("trusted_root.json", trusted_root), ("signing_config.v0.2.json", signing_config)]:
        info = TargetFile.from_data(name, data, ["sha256"])
        targets.signed.targets[name] = info
        body = served if (served is not None and name == "trusted_root.json") else data
        write(stage, f"targets/{info.hashes['sha256']}.{name}", body)
    targets.sign(signers["targets"])
    write(stage, f"{version}.targets.json", targets.to_bytes(pretty))
    snapshot = Metadata(Snapshot(version=version, expires=expires))
    snapshot.signed.meta["targets.json"] = MetaFile(version=version)
    snapshot.sign(signers["snapshot"])
    write(stage, f"{version}.snapshot.json", snapshot.to_bytes(pretty))
    timestamp = Metadata(Timestamp(version=version, expires=expires))
    timestamp.signed.snapshot_meta = MetaFile(version=version)
    timestamp.sign(signers["timestamp"])
    write(stage, "timestamp.json", timestamp.to_bytes(pretty))


root = Metadata(Root(expires=expires, consistent_snapshot=True))
for role, signer in signers.items():
    root.signed.add_key(signer.public_key, role)
root.sign(signers["root"])
write("a", "1.root.json", root.to_bytes(pretty))
publish("a", 1, first_root)

shutil.copytree(out / "a", out / "b")
old_root_signer = signers["root"]
new_root_signer = CryptoSigner.generate_ed25519()
root.signed.revoke_key(old_root_signer.public_key.keyid, "root")
root.signed.add_key(new_root_signer.public_key, "root")
root.signed.version = 2
root.signatures.clear()
root.sign(old_root_signer, append=True)
root.sign(new_root_signer, append=True)
write("b", "2.root.json", root.to_bytes(pretty))
publish("b", 2, second_root)

shutil.copytree(out / "b", out / "c")
newest = CryptoSigner.generate_ed25519()
root.signed.revoke_key(new_root_signer.public_key.keyid, "root")
root.signed.add_key(newest.public_key, "root")
root.signed.version = 3
root.signatures.clear()
root.sign(newest)
write("c", "3.root.json", root.to_bytes(pretty))

shutil.copytree(out / "b", out / "d")
third_root = second_root + b"\n"
flipped = bytearray(third_root)
flipped[len(flipped) // 2] ^= 1
publish("d", 3, third_root, served=bytes(flipped))

shutil.copytree(out / "b", out / "e")
shutil.copy(out / "a" / "timestamp.json", out / "e" / "timestamp.json")
