// Sender-key facts from @signalapp/libsignal-client 0.103.0, for the Go tests
// of protocol/senderkey. Needs `npm ci --prefix interop/node` first.
//
//   node libsignal.js > libsignal-vectors.json
//
// Writes a distribution message libsignal created, 40 group messages it
// encrypted with that sender key, a distribution message re-created after
// them (current iteration), and messages built with libsignal's low-level
// constructors from fixed inputs, so that encodings can be compared byte for
// byte (signatures are randomized: only the bytes before them are fixed).
const S = require(require('path').join(__dirname, '../../../interop/node/node_modules/@signalapp/libsignal-client'));

const hex = (u8) => Buffer.from(u8).toString('hex');

class SenderKeys extends S.SenderKeyStore {
  constructor() { super(); this.m = new Map(); }
  async saveSenderKey(a, d, r) { this.m.set(a.toString() + d, r.serialize()); }
  async getSenderKey(a, d) { const b = this.m.get(a.toString() + d); return b ? S.SenderKeyRecord.deserialize(b) : null; }
}

async function main() {
  const dist = 'd1571b07-1d00-4000-8000-00000000c0de';
  const alice = S.ProtocolAddress.new('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 2);
  const aliceStore = new SenderKeys();
  const bobStore = new SenderKeys();
  const skdm = await S.SenderKeyDistributionMessage.create(alice, dist, aliceStore);
  await S.processSenderKeyDistributionMessage(alice, S.SenderKeyDistributionMessage.deserialize(skdm.serialize()), bobStore);
  const messages = [];
  for (let i = 0; i < 40; i++) {
    const plaintext = new TextEncoder().encode(`group message ${i} `.repeat(i % 7));
    const m = await S.groupEncrypt(alice, dist, aliceStore, plaintext);
    // libsignal decrypts its own message, as a check of the vector.
    const back = await S.groupDecrypt(alice, bobStore, m.serialize());
    if (Buffer.compare(Buffer.from(back), Buffer.from(plaintext)) !== 0) throw new Error('libsignal round trip failed');
    messages.push({ plaintext: hex(plaintext), message: hex(m.serialize()) });
  }
  const again = await S.SenderKeyDistributionMessage.create(alice, dist, aliceStore);

  // Fixed inputs through the low-level constructors.
  const chainKey = new Uint8Array(32).map((_, i) => i);
  const signing = S.PrivateKey.deserialize(new Uint8Array(32).fill(0x5a));
  const fixedSkdm = S.SenderKeyDistributionMessage._new(3, dist, 0x12345678, 0x0abcdef0, chainKey, signing.getPublicKey());
  const fixedSkm = S.SenderKeyMessage._new(3, dist, 0x7fffffff, 300, new TextEncoder().encode('sixteen byte ct!'), signing);

  process.stdout.write(JSON.stringify({
    provenance: '@signalapp/libsignal-client 0.103.0, protocol/senderkey/testdata/libsignal.js',
    distribution_id: dist,
    skdm: hex(skdm.serialize()),
    chain_id: skdm.chainId(),
    chain_key: hex(skdm.chainKey()),
    messages,
    skdm_after: hex(again.serialize()),
    fixed: {
      chain_key: hex(chainKey),
      signing_private: hex(signing.serialize()),
      signing_public: hex(signing.getPublicKey().serialize()),
      skdm: hex(fixedSkdm.serialize()),
      skm: hex(fixedSkm.serialize()),
    },
  }, null, 1) + '\n');
}

main().catch((err) => { console.error(err); process.exit(1); });
