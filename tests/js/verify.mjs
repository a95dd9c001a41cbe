// sigstore-js (@sigstore/verify) as an independent verifier for sigil's
// end-to-end tests: node verify.mjs TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER
// Exit 0 and "OK" when the bundle verifies for the artifact, identity and
// issuer against the trusted root (one tlog entry and one SCT required);
// exit 1 with the error otherwise.
import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const [rootPath, bundlePath, artifactPath, identity, issuer] = process.argv.slice(2);
if (!issuer) {
  console.error('usage: node verify.mjs TRUSTED_ROOT BUNDLE ARTIFACT IDENTITY ISSUER');
  process.exit(2);
}
try {
  const root = TrustedRoot.fromJSON(JSON.parse(readFileSync(rootPath, 'utf8')));
  const bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
  const artifact = bundle.dsseEnvelope ? undefined : readFileSync(artifactPath);
  const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
  const signer = verifier.verify(toSignedEntity(bundle, artifact), {
    subjectAlternativeName: identity,
    extensions: { issuer },
  });
  console.log('OK', signer.identity?.subjectAlternativeName ?? '');
} catch (e) {
  console.log(`FAILED: ${e?.code ?? ''} ${e?.message ?? e}`);
  process.exit(1);
}
