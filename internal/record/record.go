// Package record seals and opens TLS 1.3 records (RFC 8446 §5.2–5.5) under
// a secret: the key and IV come from it through TLS 1.3's traffic key
// schedule (HKDF-Expand-Label "key" and "iv"), the nonce is the IV xor the
// record sequence number, the record format is TLS 1.3's. Given a
// session's traffic secret it reads and writes what crypto/tls and OpenSSL
// do (the tests check both ways, every suite); tlsvpn gives it secrets
// exported from the session instead (handshake.Stream).
//
// crypto/tls copies every byte twice on the way through (plaintext into its
// record buffer on write, record into the caller's buffer on read), writes
// one record per syscall and allocates on every socket read. Here sealing
// reads the caller's plaintext and writes the record straight into the
// output buffer, and opening reads the record and writes the plaintext
// straight into the caller's buffer. Neither allocates.
//
// A Sealer or an Opener belongs to one goroutine. After any error it is
// spent: its sequence numbers may be used, so nothing it produced since the
// last success may be sent, and it must not be used again.
package record

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// Record sizes (RFC 8446 §5.1, §5.2, §5.4).
const (
	HeaderLen     = 5
	MaxPlaintext  = 1 << 14            // content bytes per record
	MaxCiphertext = MaxPlaintext + 256 // the largest record body a peer may send
	tagLen        = 16                 // every TLS 1.3 AEAD's tag
	// maxInner is the largest TLSInnerPlaintext: content, content type and
	// padding together (§5.4). Padding does not lift the limit on content.
	maxInner = MaxPlaintext + 1
	// Overhead is what sealing adds to each record's content: the header,
	// the inner content type and the tag.
	Overhead = HeaderLen + 1 + tagLen
)

// ContentType is the inner content type of a TLS 1.3 record.
type ContentType uint8

const (
	TypeAlert           ContentType = 21
	TypeHandshake       ContentType = 22
	TypeApplicationData ContentType = 23
)

// Alert descriptions this package names.
const (
	AlertCloseNotify = 0
)

// MaxRecords is how many records one key may protect. AES-GCM's limit is
// 2^24.5 full-size records (RFC 8446 §5.5); tlsvpn replaces connections at
// 2^23, so this cap only bites when that fails.
const MaxRecords = 1 << 24

// ErrExhausted: the key protected MaxRecords records; the connection must
// end.
var ErrExhausted = errors.New("record limit of the key reached (2^24 records); the connection must be replaced")

// half is one direction's keys and sequence number.
type half struct {
	aead  cipher.AEAD
	iv    [12]byte
	seq   uint64
	nonce [12]byte
}

// params returns the hash and key length of a TLS 1.3 cipher suite.
func params(suite uint16) (newHash func() hash.Hash, keyLen int, err error) {
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		return sha256.New, 16, nil
	case tls.TLS_AES_256_GCM_SHA384:
		return sha512.New384, 32, nil
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return sha256.New, chacha20poly1305.KeySize, nil
	}
	return nil, 0, fmt.Errorf("record: cipher suite %#04x is not a TLS 1.3 suite", suite)
}

// SecretLen is the length of a secret for the suite: its hash's size.
func SecretLen(suite uint16) (int, error) {
	newHash, _, err := params(suite)
	if err != nil {
		return 0, err
	}
	return newHash().Size(), nil
}

func newHalf(suite uint16, secret []byte) (half, error) {
	var h half
	newHash, keyLen, err := params(suite)
	if err != nil {
		return h, err
	}
	if len(secret) != newHash().Size() {
		return h, fmt.Errorf("record: traffic secret of %d bytes, want %d", len(secret), newHash().Size())
	}
	key, err := expandLabel(newHash, secret, "key", keyLen)
	if err != nil {
		return h, err
	}
	iv, err := expandLabel(newHash, secret, "iv", len(h.iv))
	if err != nil {
		return h, err
	}
	copy(h.iv[:], iv)
	if suite == tls.TLS_CHACHA20_POLY1305_SHA256 {
		h.aead, err = chacha20poly1305.New(key)
	} else {
		var block cipher.Block
		if block, err = aes.NewCipher(key); err == nil {
			h.aead, err = cipher.NewGCM(block)
		}
	}
	clear(key)
	if err != nil {
		return h, fmt.Errorf("record: %w", err)
	}
	return h, nil
}

// expandLabel is HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
func expandLabel(newHash func() hash.Hash, secret []byte, label string, n int) ([]byte, error) {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0) // context length
	out, err := hkdf.Expand(newHash, secret, string(info), n)
	if err != nil {
		return nil, fmt.Errorf("record: derive %s: %w", label, err)
	}
	return out, nil
}

// next returns the nonce of the current sequence number and advances it
// (RFC 8446 §5.3).
func (h *half) next() ([]byte, error) {
	if h.seq >= MaxRecords {
		return nil, ErrExhausted
	}
	h.nonce = h.iv
	for i := range 8 {
		h.nonce[4+i] ^= byte(h.seq >> (56 - 8*i))
	}
	h.seq++
	return h.nonce[:], nil
}

// Sealer writes records in one direction.
type Sealer struct{ h half }

// NewSealer returns a Sealer for the cipher suite and the secret, at
// sequence number 0.
func NewSealer(suite uint16, secret []byte) (*Sealer, error) {
	h, err := newHalf(suite, secret)
	if err != nil {
		return nil, err
	}
	return &Sealer{h: h}, nil
}

// Seq is the number of records sealed with this key so far.
func (s *Sealer) Seq() uint64 { return s.h.seq }

// SealedLen is how many bytes Append adds for n bytes of content.
func SealedLen(n int) int {
	records := (n + MaxPlaintext - 1) / MaxPlaintext
	if records == 0 {
		records = 1
	}
	return n + records*Overhead
}

// Append seals content as records of type typ, MaxPlaintext bytes each but
// the last, and appends them to dst. dst must not overlap
// content[:len(content)+1].
//
// The inner plaintext of a record is its content followed by the content
// type, so content needs one spare byte of capacity (cap(content) >
// len(content)): Append borrows the byte after each record's content for
// the type and puts it back. When dst has SealedLen(len(content)) bytes of
// spare capacity, Append does not allocate.
func (s *Sealer) Append(dst, content []byte, typ ContentType) ([]byte, error) {
	if cap(content) == len(content) {
		return dst, errors.New("record: content needs one spare byte of capacity")
	}
	for first := true; first || len(content) > 0; first = false {
		n := min(len(content), MaxPlaintext)
		nonce, err := s.h.next()
		if err != nil {
			return dst, err
		}
		dst = append(dst, byte(TypeApplicationData), 3, 3, 0, 0)
		hdr := dst[len(dst)-HeaderLen:]
		binary.BigEndian.PutUint16(hdr[3:], uint16(n+1+tagLen))
		inner := content[:n+1]
		saved := inner[n]
		inner[n] = byte(typ)
		dst = s.h.aead.Seal(dst, nonce, inner, hdr)
		inner[n] = saved
		content = content[n:]
	}
	return dst, nil
}

// MaxEmptyRecords is how many records without content (an empty
// application_data record, or one of type and padding only) an Opener
// accepts in a row; the next one is refused with ErrEmptyRecords. A run of
// them makes the receiver decrypt without the stream moving on. tlsvpn's
// sender never seals a record without content (traffic that only hides
// silence would carry padding frames, which are content); the bound is the
// one crypto/tls applies to records that do not advance its stream, so
// that what crypto/tls reads still opens here.
const MaxEmptyRecords = 16

// Opener reads records in one direction.
type Opener struct {
	h     half
	empty int // records without content since the last with content
}

// NewOpener returns an Opener for the cipher suite and the secret, at
// sequence number 0.
func NewOpener(suite uint16, secret []byte) (*Opener, error) {
	h, err := newHalf(suite, secret)
	if err != nil {
		return nil, err
	}
	return &Opener{h: h}, nil
}

// Seq is the number of records opened with this key so far.
func (o *Opener) Seq() uint64 { return o.h.seq }

// Errors of a malformed or forged record. Each is fatal to the connection.
var (
	ErrHeader       = errors.New("malformed TLS record header")
	ErrAuth         = errors.New("TLS record failed authentication (bad_record_mac)")
	ErrNoType       = errors.New("TLS record without a content type")
	ErrEmptyRecords = fmt.Errorf("more than %d TLS records in a row without content", MaxEmptyRecords)
	errTooLong      = errors.New("TLS record over the size limit (record_overflow)")
)

// ParseHeader checks the header at the start of b (HeaderLen bytes) and
// returns the length of the record body that follows it.
func ParseHeader(b []byte) (int, error) {
	if len(b) < HeaderLen {
		return 0, ErrHeader
	}
	n := int(binary.BigEndian.Uint16(b[3:]))
	switch {
	case ContentType(b[0]) != TypeApplicationData:
		return 0, fmt.Errorf("%w: outer type %d, want application_data (23)", ErrHeader, b[0])
	case b[1] != 3 || b[2] != 3:
		return 0, fmt.Errorf("%w: version %#02x%02x, want 0x0303", ErrHeader, b[1], b[2])
	case n > MaxCiphertext:
		return 0, errTooLong
	case n < 1+tagLen:
		return 0, fmt.Errorf("%w: body of %d bytes is shorter than a tag", ErrHeader, n)
	}
	return n, nil
}

// Open authenticates and decrypts one record — hdr is its header, body the
// ParseHeader length bytes after it — and appends its content to dst. It
// returns the inner content type and dst extended by the content. dst must
// not overlap body; with len(body) bytes of spare capacity in dst, Open
// does not allocate.
//
// Besides a forgery it refuses a record whose content, type and padding
// together exceed 2^14+1 bytes (record_overflow, RFC 8446 §5.4), one
// without a content type, and the record that would make more than
// MaxEmptyRecords in a row without content.
func (o *Opener) Open(dst, hdr, body []byte) (ContentType, []byte, error) {
	// The tag's length is fixed, so the body's tells the inner plaintext's
	// before any work is spent on it.
	if n := len(body) - tagLen; n > maxInner {
		return 0, dst, fmt.Errorf("%w: %d bytes of content, type and padding, limit 2^14+1", errTooLong, n)
	}
	nonce, err := o.h.next()
	if err != nil {
		return 0, dst, err
	}
	out, err := o.h.aead.Open(dst, nonce, body, hdr)
	if err != nil {
		return 0, dst, ErrAuth
	}
	// Strip the zero padding; the last non-zero byte is the content type.
	i := len(out) - 1
	for i >= len(dst) && out[i] == 0 {
		i--
	}
	if i < len(dst) {
		return 0, dst, ErrNoType
	}
	switch {
	case i > len(dst):
		o.empty = 0
	case o.empty == MaxEmptyRecords:
		return 0, dst, ErrEmptyRecords
	default:
		o.empty++
	}
	return ContentType(out[i]), out[:i], nil
}
