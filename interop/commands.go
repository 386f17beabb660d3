package interop

// Typed forms of the peer protocol's commands. Each XxxRequest function builds
// a request for Peer.Do (so many can be sent in one batch); the methods on
// Peer send a single request and decode its result.

// Address names a remote party: an ACI UUID string and a device id (1..127).
type Address struct {
	Name     string
	DeviceID int
}

func (a Address) args(r Request) Request {
	r["peer"] = a.Name
	r["device_id"] = a.DeviceID
	return r
}

// Bundle is a prekey bundle as the peers exchange it. Keys are in libsignal's
// serialized form; PreKeyID and PreKey are nil when the bundle carries no
// one-time prekey.
type Bundle struct {
	RegistrationID        uint32  `json:"registration_id"`
	DeviceID              uint32  `json:"device_id"`
	PreKeyID              *uint32 `json:"pre_key_id"`
	PreKey                []byte  `json:"pre_key"`
	SignedPreKeyID        uint32  `json:"signed_pre_key_id"`
	SignedPreKey          []byte  `json:"signed_pre_key"`
	SignedPreKeySignature []byte  `json:"signed_pre_key_signature"`
	IdentityKey           []byte  `json:"identity_key"`
	KyberPreKeyID         uint32  `json:"kyber_pre_key_id"`
	KyberPreKey           []byte  `json:"kyber_pre_key"`
	KyberPreKeySignature  []byte  `json:"kyber_pre_key_signature"`
}

// Identity is the result of init.
type Identity struct {
	Name           string `json:"name"`
	DeviceID       int    `json:"device_id"`
	RegistrationID uint32 `json:"registration_id"`
	IdentityKey    []byte `json:"identity_key"`
	Bundle         Bundle `json:"bundle"`
}

// Address returns the identity's own address.
func (id Identity) Address() Address { return Address{Name: id.Name, DeviceID: id.DeviceID} }

// Ciphertext is an encrypted 1:1 or group message: Type is 3 (PreKey), 2
// (Whisper) or 7 (SenderKey).
type Ciphertext struct {
	Type       int    `json:"type"`
	Ciphertext []byte `json:"ciphertext"`
}

// Fingerprint is a safety number in both of its forms.
type Fingerprint struct {
	Displayable string `json:"displayable"`
	Scannable   []byte `json:"scannable"`
}

// SealedConfig is the result of sealed_config.
type SealedConfig struct {
	TrustRootPublic   []byte `json:"trust_root_public"`
	ServerCertificate []byte `json:"server_certificate"`
	SenderCertificate []byte `json:"sender_certificate"`
}

// SealedConfigOptions are the arguments of sealed_config; zero values leave
// the peer's defaults.
type SealedConfigOptions struct {
	TrustRootPrivate []byte
	ServerKeyPrivate []byte
	ServerKeyID      uint32
	ExpiresMS        int64
}

// Unsealed is the result of sealed_decrypt.
type Unsealed struct {
	SenderUUID     string `json:"sender_uuid"`
	SenderDeviceID int    `json:"sender_device_id"`
	MessageType    int    `json:"message_type"`
	ContentHint    int    `json:"content_hint"`
	GroupID        []byte `json:"group_id"`
	Plaintext      []byte `json:"plaintext"`
}

// GroupState is the result of group_process.
type GroupState struct {
	DistributionID string `json:"distribution_id"`
	ChainID        uint32 `json:"chain_id"`
	Iteration      uint32 `json:"iteration"`
}

// Implementation returns the peer's "implementation" string from ping.
func (p *Peer) Implementation() (string, error) {
	var r struct {
		Pong           bool   `json:"pong"`
		Implementation string `json:"implementation"`
	}
	err := p.Call(Request{"cmd": "ping"}, &r)
	return r.Implementation, err
}

// Init gives the peer a fresh identity with the given name and device.
func (p *Peer) Init(name string, deviceID int, oneTimePreKey bool) (Identity, error) {
	var id Identity
	err := p.Call(Request{"cmd": "init", "name": name, "device_id": deviceID, "one_time_pre_key": oneTimePreKey}, &id)
	return id, err
}

// BundleOptions are the arguments of bundle.
type BundleOptions struct {
	OneTimePreKey bool
	NewSigned     bool
	NewKyber      bool
}

// Bundle asks the peer for a fresh bundle.
func (p *Peer) Bundle(o BundleOptions) (Bundle, error) {
	var r struct {
		Bundle Bundle `json:"bundle"`
	}
	err := p.Call(Request{"cmd": "bundle", "one_time_pre_key": o.OneTimePreKey, "new_signed": o.NewSigned, "new_kyber": o.NewKyber}, &r)
	return r.Bundle, err
}

// ProcessBundle starts a session with the owner of b at address a.
func (p *Peer) ProcessBundle(a Address, b Bundle) error {
	return p.Call(a.args(Request{"cmd": "process_bundle", "bundle": b}), nil)
}

// EncryptRequest encrypts plaintext for a.
func EncryptRequest(a Address, plaintext []byte) Request {
	return a.args(Request{"cmd": "encrypt", "plaintext": nonNil(plaintext)})
}

// DecryptRequest decrypts a message from a.
func DecryptRequest(a Address, c Ciphertext) Request {
	return a.args(Request{"cmd": "decrypt", "type": c.Type, "ciphertext": nonNil(c.Ciphertext)})
}

// Encrypt encrypts one message for a.
func (p *Peer) Encrypt(a Address, plaintext []byte) (Ciphertext, error) {
	var c Ciphertext
	err := p.Call(EncryptRequest(a, plaintext), &c)
	return c, err
}

// Decrypt decrypts one message from a.
func (p *Peer) Decrypt(a Address, c Ciphertext) ([]byte, error) {
	var r struct {
		Plaintext []byte `json:"plaintext"`
	}
	err := p.Call(DecryptRequest(a, c), &r)
	return r.Plaintext, err
}

// DecodePlaintext returns the plaintext of a decrypt or group_decrypt reply.
func DecodePlaintext(r Reply) ([]byte, error) {
	var v struct {
		Plaintext []byte `json:"plaintext"`
	}
	err := r.Decode(&v)
	return nonNil(v.Plaintext), err
}

// Fingerprint computes the safety number with the peer at a, using the
// default identifiers (the 16 UUID bytes of both names).
func (p *Peer) Fingerprint(a Address) (Fingerprint, error) {
	var f Fingerprint
	err := p.Call(a.args(Request{"cmd": "fingerprint"}), &f)
	return f, err
}

// FingerprintWith computes the safety number with explicit identifiers.
func (p *Peer) FingerprintWith(a Address, local, remote []byte) (Fingerprint, error) {
	var f Fingerprint
	err := p.Call(a.args(Request{"cmd": "fingerprint", "local_identifier": local, "remote_identifier": remote}), &f)
	return f, err
}

// SealedConfig sets up the peer's sealed-sender certificates.
func (p *Peer) SealedConfig(o SealedConfigOptions) (SealedConfig, error) {
	r := Request{"cmd": "sealed_config"}
	if o.TrustRootPrivate != nil {
		r["trust_root_private"] = o.TrustRootPrivate
	}
	if o.ServerKeyPrivate != nil {
		r["server_key_private"] = o.ServerKeyPrivate
	}
	if o.ServerKeyID != 0 {
		r["server_key_id"] = o.ServerKeyID
	}
	if o.ExpiresMS != 0 {
		r["expires_ms"] = o.ExpiresMS
	}
	var c SealedConfig
	err := p.Call(r, &c)
	return c, err
}

// SealedEncrypt seals plaintext for a; groupID may be nil.
func (p *Peer) SealedEncrypt(a Address, plaintext []byte, contentHint int, groupID []byte) ([]byte, error) {
	r := a.args(Request{"cmd": "sealed_encrypt", "plaintext": nonNil(plaintext), "content_hint": contentHint})
	if groupID != nil {
		r["group_id"] = groupID
	}
	var v struct {
		Ciphertext []byte `json:"ciphertext"`
	}
	err := p.Call(r, &v)
	return v.Ciphertext, err
}

// SealedDecrypt opens a sealed-sender message as of timestampMS (0: the
// peer's current time).
func (p *Peer) SealedDecrypt(ciphertext []byte, timestampMS int64) (Unsealed, error) {
	r := Request{"cmd": "sealed_decrypt", "ciphertext": nonNil(ciphertext)}
	if timestampMS != 0 {
		r["timestamp_ms"] = timestampMS
	}
	var u Unsealed
	err := p.Call(r, &u)
	return u, err
}

// SealedMultiEncrypt encrypts plaintext under the peer's sender key for a
// distribution and seals it once for all recipients (sealed sender v2);
// excluded may be nil.
func (p *Peer) SealedMultiEncrypt(distributionID string, recipients []Address, plaintext []byte, contentHint int, excluded []string) ([]byte, error) {
	rs := make([]Request, len(recipients))
	for i, a := range recipients {
		rs[i] = a.args(Request{})
	}
	r := Request{"cmd": "sealed_multi_encrypt", "distribution_id": distributionID, "recipients": rs, "plaintext": nonNil(plaintext), "content_hint": contentHint}
	if excluded != nil {
		r["excluded"] = excluded
	}
	var v struct {
		Ciphertext []byte `json:"ciphertext"`
	}
	err := p.Call(r, &v)
	return v.Ciphertext, err
}

// Split is the result of sealed_multi_split: one recipient's
// ReceivedMessage, its devices and the excluded accounts.
type Split struct {
	Ciphertext []byte   `json:"ciphertext"`
	DeviceIDs  []uint32 `json:"device_ids"`
	Excluded   []string `json:"excluded"`
}

// SealedMultiSplit cuts the ReceivedMessage of the account named peer from
// a sealed sender v2 SentMessage, as a server does.
func (p *Peer) SealedMultiSplit(sent []byte, peer string) (Split, error) {
	var v Split
	err := p.Call(Request{"cmd": "sealed_multi_split", "ciphertext": nonNil(sent), "peer": peer}, &v)
	return v, err
}

// GroupCreate creates (or re-sends) the peer's sender key for a distribution.
func (p *Peer) GroupCreate(distributionID string) ([]byte, error) {
	var v struct {
		SKDM []byte `json:"skdm"`
	}
	err := p.Call(Request{"cmd": "group_create", "distribution_id": distributionID}, &v)
	return v.SKDM, err
}

// GroupProcess accepts the sender key of a.
func (p *Peer) GroupProcess(a Address, skdm []byte) (GroupState, error) {
	var g GroupState
	err := p.Call(a.args(Request{"cmd": "group_process", "skdm": nonNil(skdm)}), &g)
	return g, err
}

// GroupEncryptRequest encrypts plaintext for a distribution.
func GroupEncryptRequest(distributionID string, plaintext []byte) Request {
	return Request{"cmd": "group_encrypt", "distribution_id": distributionID, "plaintext": nonNil(plaintext)}
}

// GroupDecryptRequest decrypts a group message sent by a.
func GroupDecryptRequest(a Address, ciphertext []byte) Request {
	return a.args(Request{"cmd": "group_decrypt", "ciphertext": nonNil(ciphertext)})
}

// nonNil keeps an empty byte string from being sent as JSON null.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
