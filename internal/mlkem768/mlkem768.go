// Copyright 2023 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// This file is adapted from Go's crypto/internal/fips140/mlkem/mlkem768.go
// (Go 1.26) for Sky: the FIPS 140 module hooks are gone, the public key is
// exposed in the two parts the ML-KEM Braid sends separately, and encryption
// is split so that ct1 needs only the header and ct2 adds the key vector. See
// LICENSE-GO in this directory.

// Package mlkem768 implements ML-KEM-768 (NIST FIPS 203) with split
// ("incremental") encapsulation, as the ML-KEM Braid of Signal's Sparse
// Post-Quantum Ratchet uses it.
//
// The encapsulation key ek = t̂ ‖ ρ is handled in two parts:
//
//   - the Header, ρ ‖ H(ek) (64 bytes), which is enough to produce the first
//     ciphertext part ct1 (the compressed vector u, 960 bytes) and the shared
//     key, because both depend only on the matrix seed ρ, the hash H(ek) and
//     the encapsulation randomness m;
//   - the key Vector t̂ (1152 bytes), which is needed only for the second part
//     ct2 (the compressed polynomial v, 128 bytes).
//
// ct1 ‖ ct2 is an ordinary ML-KEM-768 ciphertext, so key generation and
// decapsulation are the standard ones, and the results interoperate with
// crypto/mlkem. All operations on secret data are constant time.
package mlkem768

import (
	"crypto/sha3"
	"crypto/subtle"
	"errors"
)

const (
	// ML-KEM global constants.
	n = 256
	q = 3329

	// encodingSizeX is the byte size of a ringElement or nttElement encoded
	// by ByteEncode_X (FIPS 203, Algorithm 5).
	encodingSize12 = n * 12 / 8
	encodingSize10 = n * 10 / 8
	encodingSize4  = n * 4 / 8
	encodingSize1  = n * 1 / 8

	messageSize = encodingSize1

	// ML-KEM-768 parameters.
	k = 3
)

// Sizes in bytes of the ML-KEM-768 values this package handles.
const (
	SeedSize             = 64                 // d ‖ z, the decapsulation key seed
	RandomnessSize       = messageSize        // m, the encapsulation randomness
	SharedKeySize        = 32                 // K
	HeaderSize           = 32 + 32            // ρ ‖ H(ek)
	VectorSize           = k * encodingSize12 // t̂, ek without ρ
	EncapsulationKeySize = VectorSize + 32    // ek = t̂ ‖ ρ
	Ciphertext1Size      = k * encodingSize10 // compressed u
	Ciphertext2Size      = encodingSize4      // compressed v
	CiphertextSize       = Ciphertext1Size + Ciphertext2Size
	expandedKeySize      = k*encodingSize12 + EncapsulationKeySize + 32 + 32
)

// ErrInvalidKey reports an encapsulation key vector that is not canonically
// encoded (a coefficient ≥ q) or that does not hash to the H(ek) of its
// header.
var ErrInvalidKey = errors.New("mlkem768: encapsulation key does not match its header or is not canonical")

// errSeedSize reports a decapsulation key seed of the wrong length.
var errSeedSize = errors.New("mlkem768: decapsulation key seed must be 64 bytes")

// A DecapsulationKey is the secret key used to decapsulate a shared key from
// a ciphertext, with its expanded precomputed values.
type DecapsulationKey struct {
	d [32]byte // decapsulation key seed
	z [32]byte // implicit rejection sampling seed

	ρ [32]byte // sampleNTT seed for A
	h [32]byte // H(ek), stored for ML-KEM.Decaps_internal

	encryptionKey
	decryptionKey
}

// encryptionKey is the parsed and expanded form of a PKE encryption key.
type encryptionKey struct {
	t [k]nttElement     // ByteDecode₁₂(ek[:384k])
	a [k * k]nttElement // A[i*k+j] = sampleNTT(ρ, j, i)
}

// decryptionKey is the parsed and expanded form of a PKE decryption key.
type decryptionKey struct {
	s [k]nttElement // ByteDecode₁₂(dk[:decryptionKeySize])
}

// String and GoString, with Format, keep the secret key out of logs.
func (DecapsulationKey) String() string   { return "mlkem768.DecapsulationKey(redacted)" }
func (DecapsulationKey) GoString() string { return "mlkem768.DecapsulationKey(redacted)" }

// NewDecapsulationKey derives a decapsulation key from its 64-byte seed d ‖ z
// (ML-KEM.KeyGen_internal). The seed must be uniformly random.
func NewDecapsulationKey(seed []byte) (*DecapsulationKey, error) {
	if len(seed) != SeedSize {
		return nil, errSeedSize
	}
	dk := &DecapsulationKey{}
	kemKeyGen(dk, (*[32]byte)(seed[:32]), (*[32]byte)(seed[32:]))
	return dk, nil
}

// Seed returns the 64-byte seed d ‖ z the key was derived from. It must be
// kept secret.
func (dk *DecapsulationKey) Seed() [SeedSize]byte {
	var b [SeedSize]byte
	copy(b[:], dk.d[:])
	copy(b[32:], dk.z[:])
	return b
}

// Header returns ρ ‖ H(ek), the part of the public key that encapsulation
// starts from.
func (dk *DecapsulationKey) Header() [HeaderSize]byte {
	var b [HeaderSize]byte
	copy(b[:32], dk.ρ[:])
	copy(b[32:], dk.h[:])
	return b
}

// Vector returns t̂ = ByteEncode₁₂(t), the rest of the public key.
func (dk *DecapsulationKey) Vector() [VectorSize]byte {
	var b [VectorSize]byte
	out := b[:0]
	for i := range dk.t {
		out = polyByteEncode(out, dk.t[i])
	}
	return b
}

// EncapsulationKey returns the standard encoding of the public key, t̂ ‖ ρ.
func (dk *DecapsulationKey) EncapsulationKey() []byte {
	v := dk.Vector()
	return append(v[:], dk.ρ[:]...)
}

// kemKeyGen generates a decapsulation key.
//
// It implements ML-KEM.KeyGen_internal according to FIPS 203, Algorithm 16, and
// K-PKE.KeyGen according to FIPS 203, Algorithm 13. The two are merged to save
// copies and allocations.
func kemKeyGen(dk *DecapsulationKey, d, z *[32]byte) {
	dk.d = *d
	dk.z = *z

	g := sha3.New512()
	g.Write(d[:])
	g.Write([]byte{k}) // Module dimension as a domain separator.
	G := g.Sum(make([]byte, 0, 64))
	ρ, σ := G[:32], G[32:]
	dk.ρ = [32]byte(ρ)

	A := &dk.a
	for i := byte(0); i < k; i++ {
		for j := byte(0); j < k; j++ {
			A[i*k+j] = sampleNTT(ρ, j, i)
		}
	}

	var N byte
	s := &dk.s
	for i := range s {
		s[i] = ntt(samplePolyCBD(σ, N))
		N++
	}
	e := make([]nttElement, k)
	for i := range e {
		e[i] = ntt(samplePolyCBD(σ, N))
		N++
	}

	t := &dk.t
	for i := range t { // t = A ◦ s + e
		t[i] = e[i]
		for j := range s {
			t[i] = polyAdd(t[i], nttMul(A[i*k+j], s[j]))
		}
	}

	dk.h = sha3.Sum256(dk.EncapsulationKey())
}

// Encapsulate1 starts an encapsulation to the key whose header is hdr, with
// the randomness m (RandomnessSize bytes from crypto/rand; the caller keeps
// it secret until Encapsulate2). It returns the first ciphertext part and the
// shared key, which is final already: (K, r) = G(m ‖ H(ek)) does not depend
// on t̂.
//
// It implements the u half of ML-KEM.Encaps_internal and K-PKE.Encrypt (FIPS
// 203, Algorithms 17 and 14).
func Encapsulate1(hdr *[HeaderSize]byte, m *[RandomnessSize]byte) (ct1 [Ciphertext1Size]byte, sharedKey [SharedKeySize]byte) {
	K, r := kemG(m, hdr[32:])
	ρ := hdr[:32]

	var N byte
	var rHat [k]nttElement
	for i := range rHat {
		rHat[i] = ntt(samplePolyCBD(r[:], N))
		N++
	}
	var e1 [k]ringElement
	for i := range e1 {
		e1[i] = samplePolyCBD(r[:], N)
		N++
	}

	c := ct1[:0]
	for i := range k { // u = NTT⁻¹(Aᵀ ◦ r) + e1
		var uHat nttElement
		for j := range k {
			// Row i of Aᵀ is column i of A: A[j][i] = sampleNTT(ρ, i, j).
			uHat = polyAdd(uHat, nttMul(sampleNTT(ρ, byte(i), byte(j)), rHat[j]))
		}
		c = ringCompressAndEncode10(c, polyAdd(e1[i], inverseNTT(uHat)))
	}
	return ct1, K
}

// Encapsulate2 finishes the encapsulation that Encapsulate1 started with the
// same hdr and m, once the key vector t̂ has arrived. It returns
// ErrInvalidKey, and no ciphertext, if t̂ is not canonically encoded or does
// not hash, with ρ, to the H(ek) of the header.
//
// It implements the v half of K-PKE.Encrypt (FIPS 203, Algorithm 14); r, e2
// and μ are derived again from m rather than stored.
func Encapsulate2(hdr *[HeaderSize]byte, vector *[VectorSize]byte, m *[RandomnessSize]byte) (ct2 [Ciphertext2Size]byte, err error) {
	t, err := CheckVector(hdr, vector)
	if err != nil {
		return ct2, err
	}
	_, r := kemG(m, hdr[32:])

	var vNTT nttElement // t⊺ ◦ r
	for i := range k {
		vNTT = polyAdd(vNTT, nttMul(t[i], ntt(samplePolyCBD(r[:], byte(i)))))
	}
	e2 := samplePolyCBD(r[:], 2*k)
	μ := ringDecodeAndDecompress1(m)
	v := polyAdd(polyAdd(inverseNTT(vNTT), e2), μ)
	ringCompressAndEncode4(ct2[:0], v)
	return ct2, nil
}

// CheckVector parses the key vector t̂ and checks it against the header: every
// coefficient must be below q (the FIPS 203 §7.2 modulus check) and
// SHA3-256(t̂ ‖ ρ) must equal the header's H(ek).
func CheckVector(hdr *[HeaderSize]byte, vector *[VectorSize]byte) (t [k]nttElement, err error) {
	for i := range t {
		if t[i], err = polyByteDecode[nttElement](vector[i*encodingSize12 : (i+1)*encodingSize12]); err != nil {
			return t, ErrInvalidKey
		}
	}
	h := sha3.New256()
	h.Write(vector[:])
	h.Write(hdr[:32])
	if subtle.ConstantTimeCompare(h.Sum(nil), hdr[32:]) != 1 {
		return t, ErrInvalidKey
	}
	return t, nil
}

// kemG computes (K, r) = G(m ‖ h) for ML-KEM.Encaps_internal.
func kemG(m *[RandomnessSize]byte, h []byte) (K [SharedKeySize]byte, r [32]byte) {
	g := sha3.New512()
	g.Write(m[:])
	g.Write(h)
	G := g.Sum(make([]byte, 0, 64))
	copy(K[:], G[:32])
	copy(r[:], G[32:])
	return K, r
}

// Encapsulate performs a whole ML-KEM-768 encapsulation to the standard
// encoding of an encapsulation key with randomness m, by running both halves.
// It returns ErrInvalidKey for a key that fails the modulus check.
func Encapsulate(ek []byte, m *[RandomnessSize]byte) (sharedKey [SharedKeySize]byte, ciphertext []byte, err error) {
	if len(ek) != EncapsulationKeySize {
		return sharedKey, nil, ErrInvalidKey
	}
	var hdr [HeaderSize]byte
	copy(hdr[:32], ek[VectorSize:])
	h := sha3.Sum256(ek)
	copy(hdr[32:], h[:])
	ct1, K := Encapsulate1(&hdr, m)
	ct2, err := Encapsulate2(&hdr, (*[VectorSize]byte)(ek[:VectorSize]), m)
	if err != nil {
		return sharedKey, nil, err
	}
	return K, append(ct1[:], ct2[:]...), nil
}

// ErrCiphertextSize reports a ciphertext that is not CiphertextSize bytes.
var ErrCiphertextSize = errors.New("mlkem768: ciphertext must be 1088 bytes")

// Decapsulate returns the shared key for a ciphertext ct1 ‖ ct2. A ciphertext
// of the right length that was not produced for this key yields the
// implicit-rejection key (FIPS 203), not an error.
//
// It implements ML-KEM.Decaps_internal according to FIPS 203, Algorithm 18.
func (dk *DecapsulationKey) Decapsulate(ciphertext []byte) (K [SharedKeySize]byte, err error) {
	if len(ciphertext) != CiphertextSize {
		return K, ErrCiphertextSize
	}
	c := (*[CiphertextSize]byte)(ciphertext)
	m := pkeDecrypt(&dk.decryptionKey, c)
	Kprime, r := kemG((*[32]byte)(m), dk.h[:])
	J := sha3.NewSHAKE256()
	J.Write(dk.z[:])
	J.Write(c[:])
	J.Read(K[:])
	var cc [CiphertextSize]byte
	c1 := pkeEncrypt(&cc, &dk.encryptionKey, (*[32]byte)(m), r[:])

	subtle.ConstantTimeCopy(subtle.ConstantTimeCompare(c[:], c1), K[:], Kprime[:])
	return K, nil
}

// pkeEncrypt encrypt a plaintext message.
//
// It implements K-PKE.Encrypt according to FIPS 203, Algorithm 14, although the
// computation of t and AT is done in kemKeyGen.
func pkeEncrypt(cc *[CiphertextSize]byte, ex *encryptionKey, m *[messageSize]byte, rnd []byte) []byte {
	var N byte
	r, e1 := make([]nttElement, k), make([]ringElement, k)
	for i := range r {
		r[i] = ntt(samplePolyCBD(rnd, N))
		N++
	}
	for i := range e1 {
		e1[i] = samplePolyCBD(rnd, N)
		N++
	}
	e2 := samplePolyCBD(rnd, N)

	u := make([]ringElement, k) // NTT⁻¹(AT ◦ r) + e1
	for i := range u {
		var uHat nttElement
		for j := range r {
			// Note that i and j are inverted, as we need the transposed of A.
			uHat = polyAdd(uHat, nttMul(ex.a[j*k+i], r[j]))
		}
		u[i] = polyAdd(e1[i], inverseNTT(uHat))
	}

	μ := ringDecodeAndDecompress1(m)

	var vNTT nttElement // t⊺ ◦ r
	for i := range ex.t {
		vNTT = polyAdd(vNTT, nttMul(ex.t[i], r[i]))
	}
	v := polyAdd(polyAdd(inverseNTT(vNTT), e2), μ)

	c := cc[:0]
	for _, f := range u {
		c = ringCompressAndEncode10(c, f)
	}
	c = ringCompressAndEncode4(c, v)

	return c
}

// pkeDecrypt decrypts a ciphertext.
//
// It implements K-PKE.Decrypt according to FIPS 203, Algorithm 15,
// although s is retained from kemKeyGen.
func pkeDecrypt(dx *decryptionKey, c *[CiphertextSize]byte) []byte {
	u := make([]ringElement, k)
	for i := range u {
		b := (*[encodingSize10]byte)(c[encodingSize10*i : encodingSize10*(i+1)])
		u[i] = ringDecodeAndDecompress10(b)
	}

	b := (*[encodingSize4]byte)(c[encodingSize10*k:])
	v := ringDecodeAndDecompress4(b)

	var mask nttElement // s⊺ ◦ NTT(u)
	for i := range dx.s {
		mask = polyAdd(mask, nttMul(dx.s[i], ntt(u[i])))
	}
	w := polySub(v, inverseNTT(mask))

	return ringCompressAndEncode1(nil, w)
}
